"""Which watchlists an enriched article (or an alert event) matches.

`WatchIndex` maps each ticker, entity key and topic to the ids of the watchlists that hold it,
so an article costs O(its entities + the hits found), however many watchlists exist. It is
updated in place as watchlists change (`put`, `remove`). `scan` is the brute-force reference
(every watchlist checked); the tests prove the two agree.

A watchlist matches an article when at least one hit qualifies:
- a ticker hit: an entity linked to a watched ticker; an entity hit: an entity whose name is a
  watched name (`entity_key`); a topic hit: the article's topic is watched;
- ticker and entity hits must be at least `min_relevance` (`title`: the mention ends within the
  title); a topic hit concerns the whole article and always passes;
- the condition holds on the hit's sentiment: the model's towards the entity when it gave one
  (the entity's own, else its sentence's: `alerts.watchlists.sentiment`), else the headline's
  (always the headline's for a topic).

Alert events match on their topic and `ticker` label; the sentiment condition does not apply (an
alert is already a sentiment signal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from alerts.watchlists.model import RELEVANCE_ORDER, Relevance, Watchlist, entity_key, ticker_key
from alerts.watchlists.sentiment import (
    SentimentSource,
    SentimentView,
    entity_sentiment,
    entity_source,
    headline_sentiment,
)
from schemas import EnrichedNews, EntityMention

HitKind = Literal["ticker", "entity", "topic"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One reason a watchlist concerns an item."""

    on: HitKind
    key: str
    """The watched key: a ticker (`ticker_key`), an entity key (`entity_key`) or a topic."""
    mention: str | None = None
    """The entity as the article writes it (None for topic hits)."""
    relevance: Relevance | None = None
    sentiment: SentimentView | None = None
    sentiment_of: SentimentSource | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "key": self.key,
            "mention": self.mention,
            "relevance": self.relevance,
            "sentiment": self.sentiment.as_dict() if self.sentiment else None,
            "sentiment_of": self.sentiment_of,
        }


@dataclass(frozen=True, slots=True)
class Match:
    watchlist: Watchlist
    hits: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class ArticleView:
    """An enriched article and the length of its title (None: unknown, so nothing is `title`)."""

    item: EnrichedNews
    title_chars: int | None = None


def relevance_of(mention: EntityMention, title_chars: int | None) -> Relevance:
    return "title" if title_chars is not None and mention.end <= title_chars else "mention"


def _mention_hits(mention: EntityMention, article: ArticleView, headline: SentimentView) -> tuple[Hit | None, Hit]:
    """The ticker hit (if the mention is linked to one) and the entity hit a mention can make."""
    own = entity_sentiment(mention)
    view, source = (own, entity_source(mention)) if own is not None else (headline, "headline")
    relevance = relevance_of(mention, article.title_chars)
    ticker = Hit("ticker", ticker_key(mention.ticker), mention.text, relevance, view, source) if mention.ticker else None
    return ticker, Hit("entity", entity_key(mention.text), mention.text, relevance, view, source)


def _topic_hit(item: EnrichedNews, headline: SentimentView) -> Hit:
    return Hit("topic", item.topic, None, None, headline, "headline")


def qualifies(watchlist: Watchlist, hit: Hit) -> bool:
    if hit.relevance is not None and RELEVANCE_ORDER[hit.relevance] < RELEVANCE_ORDER[watchlist.min_relevance]:
        return False
    return hit.sentiment is None or watchlist.condition.holds(hit.sentiment)


def _qualified(watchlist: Watchlist, hits: Iterable[Hit]) -> Match | None:
    kept = tuple(dict.fromkeys(h for h in hits if qualifies(watchlist, h)))
    return Match(watchlist, kept) if kept else None


class WatchIndex:
    """Watchlists by ticker, entity key and topic; `match` looks up only what an article holds."""

    def __init__(self, watchlists: Iterable[Watchlist] = ()) -> None:
        self._by_id: dict[int, Watchlist] = {}
        self._tickers: defaultdict[str, set[int]] = defaultdict(set)
        self._entities: defaultdict[str, set[int]] = defaultdict(set)
        self._topics: defaultdict[str, set[int]] = defaultdict(set)
        for watchlist in watchlists:
            self.put(watchlist)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, watchlist_id: int) -> bool:
        return watchlist_id in self._by_id

    def get(self, watchlist_id: int) -> Watchlist | None:
        return self._by_id.get(watchlist_id)

    def _keys(self, w: Watchlist) -> Iterable[tuple[defaultdict[str, set[int]], str]]:
        yield from ((self._tickers, t) for t in w.tickers)
        yield from ((self._entities, e) for e in w.entity_keys)
        yield from ((self._topics, t) for t in w.topics)

    def put(self, watchlist: Watchlist) -> None:
        """Add `watchlist`, or replace the one with its id."""
        self.remove(watchlist.id)
        self._by_id[watchlist.id] = watchlist
        for table, key in self._keys(watchlist):
            table[key].add(watchlist.id)

    def remove(self, watchlist_id: int) -> None:
        old = self._by_id.pop(watchlist_id, None)
        if old is None:
            return
        for table, key in self._keys(old):
            ids = table[key]
            ids.discard(watchlist_id)
            if not ids:
                del table[key]

    def may_match(self, item: EnrichedNews) -> bool:
        """Whether any watchlist holds a key of `item` (before relevance and the condition)."""
        if item.topic in self._topics:
            return True
        return any(
            (m.ticker and ticker_key(m.ticker) in self._tickers) or entity_key(m.text) in self._entities
            for m in item.entities
        )

    def match(self, article: ArticleView) -> list[Match]:
        """The watchlists `article` matches (ordered by id), each with its qualifying hits."""
        item = article.item
        headline = headline_sentiment(item)
        found: defaultdict[int, list[Hit]] = defaultdict(list)
        for mention in item.entities:
            ticker, entity = _mention_hits(mention, article, headline)
            if ticker is not None:
                for wid in self._tickers.get(ticker.key, ()):
                    found[wid].append(ticker)
            for wid in self._entities.get(entity.key, ()):
                found[wid].append(entity)
        if item.topic in self._topics:
            topic = _topic_hit(item, headline)
            for wid in self._topics[item.topic]:
                found[wid].append(topic)
        return _matches((self._by_id[wid], hits) for wid, hits in found.items())

    def match_alert(self, topic: str, ticker: str | None) -> list[Match]:
        """The watchlists an alert on `topic` (grouped by `ticker`, if any) concerns."""
        found: defaultdict[int, list[Hit]] = defaultdict(list)
        if ticker:
            key = ticker_key(ticker)
            for wid in self._tickers.get(key, ()):
                found[wid].append(Hit("ticker", key))
        for wid in self._topics.get(topic, ()):
            found[wid].append(Hit("topic", topic))
        return _matches((self._by_id[wid], hits) for wid, hits in found.items())


def _matches(candidates: Iterable[tuple[Watchlist, list[Hit]]]) -> list[Match]:
    out = [m for w, hits in candidates if (m := _qualified(w, hits)) is not None]
    return sorted(out, key=lambda m: m.watchlist.id)


def scan(watchlists: Iterable[Watchlist], article: ArticleView) -> list[Match]:
    """Brute force: every watchlist checked against every entity and the topic (the reference)."""
    item = article.item
    headline = headline_sentiment(item)
    candidates = []
    for w in watchlists:
        tickers, entities = set(w.tickers), w.entity_keys
        hits: list[Hit] = []
        for mention in item.entities:
            ticker, entity = _mention_hits(mention, article, headline)
            if ticker is not None and ticker.key in tickers:
                hits.append(ticker)
            if entity.key in entities:
                hits.append(entity)
        if item.topic in w.topics:
            hits.append(_topic_hit(item, headline))
        candidates.append((w, hits))
    return _matches(candidates)
