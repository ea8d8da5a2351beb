"""The indexed matcher equals a brute-force scan of every watchlist (hypothesis), and the
matching rules: keys, relevance, the condition on the entity's own sentiment or the headline's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.watchlists.matcher import ArticleView, WatchIndex, scan
from alerts.watchlists.model import SentimentCondition
from schemas import EntityMention, SentimentProbs
from tests.fixtures.watchlists import enriched, mention, own_sentiment, watchlist

TICKERS = ("AAPL", "MSFT", "XOM", "JPM", "TSLA")
NAMES = ("Apple", "Microsoft", "Exxon Mobil", "Federal Reserve", "Elon Musk")
TOPICS = ("Stock Movement", "Energy | Oil", "Macro", "Earnings")
SCORES = (-1.0, -0.6, -0.5, 0.0, 0.3, 1.0)
PROBS = (0.0, 0.1, 0.5, 0.6, 0.9)


def _respell(name: str, upper: bool, spaces: bool) -> str:
    text = name.upper() if upper else name
    return text.replace(" ", "  ") if spaces else text


conditions = st.builds(
    lambda labels, hi, lo, p, of: SentimentCondition(
        labels=labels,
        max_score=hi,
        min_score=lo if lo is None or hi is None or lo <= hi else hi,
        min_probability=p,
        probability_of=of,
    ),
    st.lists(st.sampled_from(("negative", "neutral", "positive")), max_size=2).map(tuple),
    st.none() | st.sampled_from(SCORES),
    st.none() | st.sampled_from(SCORES),
    st.none() | st.sampled_from(PROBS),
    st.sampled_from(("negative", "neutral", "positive")),
)

watchlists = st.builds(
    lambda i, tickers, names, topics, condition, relevance: watchlist(
        i, tickers=tickers, entities=names, topics=topics or (TOPICS[0],) if not (tickers or names) else topics,
        condition=condition, min_relevance=relevance,
    ),
    st.integers(1, 40),
    st.lists(st.sampled_from(TICKERS), max_size=3).map(tuple),
    st.lists(st.sampled_from(NAMES), max_size=2).map(tuple),
    st.lists(st.sampled_from(TOPICS), max_size=2).map(tuple),
    conditions,
    st.sampled_from(("mention", "title")),
)


@st.composite
def articles(draw: st.DrawFn) -> ArticleView:
    entities = []
    for _ in range(draw(st.integers(0, 4))):
        name = _respell(draw(st.sampled_from(NAMES)), draw(st.booleans()), draw(st.booleans()))
        start = draw(st.integers(0, 60))
        ticker = draw(st.none() | st.sampled_from(TICKERS).map(lambda t: draw(st.sampled_from((t, "$" + t.lower())))))
        if draw(st.booleans()):
            neg = draw(st.sampled_from(PROBS))
            own = {"negative": neg, "neutral": 0.0, "positive": round(1.0 - neg, 2)}
            abstained = draw(st.booleans())
            entities.append(
                own_sentiment(
                    name, start, start + len(name), ticker,
                    sentiment=None if abstained else max(own, key=lambda k: own[k]),
                    sentiment_probs=None if abstained else own,
                    sentiment_score=None if abstained else own["positive"] - own["negative"],
                )
            )
        else:
            entities.append(mention(name, start, ticker=ticker))
    neg = draw(st.sampled_from(PROBS))
    pos = draw(st.sampled_from(tuple(p for p in PROBS if p + neg <= 1.0)))
    item = enriched(topic=draw(st.sampled_from(TOPICS)), negative=neg, positive=pos, entities=tuple(entities))
    return ArticleView(item, draw(st.none() | st.integers(0, 80)))


@settings(max_examples=300, deadline=None)
@given(st.lists(watchlists, max_size=25, unique_by=lambda w: w.id), st.lists(articles(), min_size=1, max_size=4))
def test_index_equals_brute_force(lists: list, views: list[ArticleView]) -> None:
    index = WatchIndex(lists)
    for view in views:
        assert index.match(view) == scan(lists, view)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(watchlists, max_size=20, unique_by=lambda w: w.id),
    st.lists(watchlists, max_size=10),
    st.lists(st.integers(1, 40), max_size=10),
    articles(),
)
def test_index_after_changes_equals_brute_force(first: list, replaced: list, removed: list[int], view: ArticleView) -> None:
    index = WatchIndex(first)
    current = {w.id: w for w in first}
    for w in replaced:
        index.put(w)
        current[w.id] = w
    for wid in removed:
        index.remove(wid)
        current.pop(wid, None)
    assert len(index) == len(current)
    assert index.match(view) == scan(current.values(), view)


def test_keys_match_by_ticker_entity_key_and_topic() -> None:
    w = watchlist(1, tickers=("$aapl",), entities=("Federal  reserve",), topics=("Macro",))
    assert w.tickers == ("AAPL",)
    index = WatchIndex([w])
    by_ticker = enriched(entities=(mention("Apple", ticker="AAPL"),))
    by_name = enriched(entities=(mention("FEDERAL RESERVE"),))
    by_topic = enriched(topic="Macro")
    nothing = enriched(entities=(mention("Apple"), mention("Microsoft", ticker="MSFT")))
    assert [m.hits[0].on for v in (by_ticker, by_name, by_topic) for m in index.match(ArticleView(v))] == [
        "ticker",
        "entity",
        "topic",
    ]
    assert index.match(ArticleView(nothing)) == []
    assert not index.may_match(nothing)


def test_condition_boundary_is_inclusive() -> None:
    w = watchlist(1, tickers=("XOM",), condition=SentimentCondition(labels=("negative",), max_score=-0.5))
    index = WatchIndex([w])
    at = enriched(negative=0.6, positive=0.1, entities=(mention("Exxon", ticker="XOM"),))
    assert at.sentiment_score == -0.5
    above = enriched(negative=0.55, positive=0.1, entities=(mention("Exxon", ticker="XOM"),))
    assert len(index.match(ArticleView(at))) == 1
    assert index.match(ArticleView(above)) == []


def test_min_relevance_title_needs_the_mention_in_the_title() -> None:
    w = watchlist(1, tickers=("AAPL",), topics=("Earnings",), min_relevance="title")
    index = WatchIndex([w])
    item = enriched(entities=(mention("Apple", 30, ticker="AAPL"),))
    assert index.match(ArticleView(item, title_chars=40))[0].hits[0].relevance == "title"
    assert index.match(ArticleView(item, title_chars=20)) == []
    assert index.match(ArticleView(item, title_chars=None)) == []
    on_topic = enriched(topic="Earnings", entities=(mention("Apple", 30, ticker="AAPL"),))
    assert [h.on for h in index.match(ArticleView(on_topic, title_chars=20))[0].hits] == ["topic"]


def test_condition_uses_the_entitys_own_sentiment_else_the_headlines() -> None:
    w = watchlist(1, tickers=("AAPL",), condition=SentimentCondition(labels=("negative",)))
    index = WatchIndex([w])
    own_positive = own_sentiment(
        "Apple", 0, 5, "AAPL", sentiment="positive",
        sentiment_probs={"negative": 0.1, "neutral": 0.1, "positive": 0.8}, sentiment_score=0.7,
    )
    abstained = own_sentiment("Apple", 0, 5, "AAPL", sentiment=None)
    negative_headline = dict(negative=0.8, positive=0.1)
    assert index.match(ArticleView(enriched(entities=(own_positive,), **negative_headline))) == []
    [match] = index.match(ArticleView(enriched(entities=(abstained,), **negative_headline)))
    assert match.hits[0].sentiment_of == "headline"
    own_negative = own_sentiment(
        "Apple", 0, 5, "AAPL", sentiment="negative", sentiment_probs={"negative": 0.7, "neutral": 0.2, "positive": 0.1}
    )
    [match] = index.match(ArticleView(enriched(entities=(own_negative,), negative=0.1, positive=0.8)))
    assert match.hits[0].sentiment_of == "entity"
    assert match.hits[0].sentiment is not None and abs(match.hits[0].sentiment.score + 0.6) < 1e-9


def test_alerts_match_on_topic_or_ticker_label() -> None:
    index = WatchIndex([watchlist(1, tickers=("AAPL",)), watchlist(2, topics=("Macro",)), watchlist(3, tickers=("XOM",))])
    assert [m.watchlist.id for m in index.match_alert("Macro", "aapl")] == [1, 2]
    assert [m.watchlist.id for m in index.match_alert("Earnings", None)] == []


def test_a_sentence_level_sentiment_says_so() -> None:
    """Where the entity output was unsure, the mention carries its sentence's sentiment (schema 3)."""
    w = watchlist(1, tickers=("AAPL",), condition=SentimentCondition(labels=("negative",)))
    probs = SentimentProbs(negative=0.7, neutral=0.2, positive=0.1)
    sentence = EntityMention(
        text="Apple", label="ORG", start=0, end=5, confidence=0.9, ticker="AAPL",
        sentiment="negative", sentiment_probs=probs, sentiment_score=-0.6, sentiment_source="sentence",
    )  # fmt: skip
    [match] = WatchIndex([w]).match(ArticleView(enriched(entities=(sentence,), negative=0.1, positive=0.8)))
    assert match.hits[0].sentiment_of == "sentence" and match.hits[0].sentiment is not None
    assert match.hits[0].sentiment.label == "negative"
