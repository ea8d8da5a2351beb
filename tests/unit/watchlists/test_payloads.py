"""Notice bodies: the `watchlist.match` / `watchlist.alert` JSON and their Slack form, escaped."""

from __future__ import annotations

import json
from datetime import timedelta

from alerts.watchlists.matcher import ArticleView, WatchIndex
from alerts.watchlists.payloads import ArticleText, alert_payload, match_payload, render_notice, slack_notice
from schemas import AlertEvent, AlertWindow, SentimentProbs
from tests.fixtures.watchlists import T0, enriched, mention, watchlist

HOSTILE = "<!channel> Apple & <https://evil.example|click> slides"


def _match_body(url: str | None = "https://example.com/a?x=1|2") -> dict:
    w = watchlist(7, name="AAPL desk", tickers=("AAPL",))
    item = enriched(entities=(mention("Apple", 10, ticker="AAPL"),))
    [match] = WatchIndex([w]).match(ArticleView(item, len(HOSTILE)))
    return match_payload(
        notice_id="n-1", watchlist=w, item=item, article=ArticleText(HOSTILE, url, "wire"), hits=match.hits,
        public_url="https://finsent.example/", now=T0,
    )


def test_match_payload_names_the_watchlist_article_and_hits() -> None:
    body = _match_body()
    assert body["type"] == "watchlist.match" and body["notice_id"] == "n-1"
    assert body["watchlist"] == {"id": 7, "name": "AAPL desk", "owner": "pm", "condition": "any sentiment"}
    assert body["article"]["title"] == HOSTILE and body["article"]["sentiment"]["label"] == "negative"
    assert body["hits"][0]["on"] == "ticker" and body["hits"][0]["relevance"] == "title"
    assert body["link"] == "https://finsent.example/v1/articles/" + "n" * 16
    assert json.loads(render_notice("json", body)) == body


def test_slack_escapes_every_text_from_the_data() -> None:
    slack = slack_notice(_match_body())
    rendered = json.dumps(slack)
    assert "<!channel>" not in rendered and "<https://evil" not in rendered
    section = slack["blocks"][1]["text"]["text"]
    assert section.startswith("<https://example.com/a?x=1%7C2|&lt;!channel&gt; Apple &amp; &lt;https")
    assert slack["blocks"][0]["text"]["type"] == "plain_text"
    assert json.loads(render_notice("slack", _match_body())) == slack
    no_url = slack_notice(_match_body(url=None))["blocks"][1]["text"]["text"]
    assert no_url.startswith("&lt;!channel&gt;")


def test_alert_payload_and_slack() -> None:
    w = watchlist(3, name="oil", topics=("Energy | Oil",))
    event = AlertEvent(
        fingerprint="f" * 32, rule="negative-spike", topic="Energy | Oil", status="resolved",
        window=AlertWindow(start=T0 - timedelta(minutes=15), end=T0), labels={"ticker": "<XOM>"},
        started_at=T0 - timedelta(hours=1), ended_at=T0, emitted_at=T0,
    )
    [match] = WatchIndex([w]).match_alert(event.topic, event.labels["ticker"])
    body = alert_payload(notice_id="n-2", watchlist=w, event=event, hits=match.hits, public_url="http://x", now=T0)
    assert body["type"] == "watchlist.alert" and body["alert"]["status"] == "resolved"
    assert body["link"] == "http://x/alerts/" + "f" * 32
    slack = slack_notice(body)
    assert "&lt;XOM&gt;" in slack["blocks"][1]["text"]["text"]
    assert slack["blocks"][0]["text"]["text"].startswith(":white_check_mark: [WATCHLIST] oil: alert resolved")


def test_slack_hits_say_when_the_sentiment_is_the_sentences() -> None:
    w = watchlist(7, name="AAPL desk", tickers=("AAPL",))
    probs = SentimentProbs(negative=0.7, neutral=0.2, positive=0.1)
    apple = mention("Apple", 10, ticker="AAPL").model_copy(
        update={"sentiment": "negative", "sentiment_probs": probs, "sentiment_score": -0.6, "sentiment_source": "sentence"}
    )
    item = enriched(entities=(apple,))
    [match] = WatchIndex([w]).match(ArticleView(item, len(HOSTILE)))
    body = match_payload(
        notice_id="n-1", watchlist=w, item=item, article=ArticleText(HOSTILE, None, "wire"), hits=match.hits,
        public_url="https://finsent.example/", now=T0,
    )
    assert body["hits"][0]["sentiment_of"] == "sentence"
    hits_line = slack_notice(body)["blocks"][2]["elements"][0]["text"]
    assert "[negative -0.60, its sentence]" in hits_line
