"""`finsent worker stream` against the real broker and Postgres: enriched items in, exactly the
expected notices out (matches and non-matches, a condition boundary, title relevance, a rate
limit, quiet hours, an alert on a watched ticker), signed webhooks received, a malformed record
dead-lettered; the same records delivered again notify nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, select

from alerts.local_receiver import LocalReceiver
from alerts.watchlists.model import QuietHours, RateLimit, SentimentCondition, WatchlistSpec
from alerts.watchlists.store import add_watchlist
from pipeline.config import Settings
from pipeline.db.models import WatchlistNotice, WebhookDelivery
from pipeline.kafka.clients import make_consumer
from schemas import AlertEvent, AlertWindow, DeadLetter, encode, utc_now
from tests.fixtures.kafka import KafkaTopics, consume
from tests.fixtures.stream import (
    SECRET,
    committed_everything,
    enriched_records,
    produce,
    running_worker,
    store_articles,
)
from tests.fixtures.waiting import wait_until
from tests.fixtures.watchlists import enriched, mention

pytestmark = pytest.mark.integration


def _quiet_now() -> QuietHours:
    """Quiet hours around the current UTC time (wrapping midnight when needed)."""
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    return QuietHours(start=time(start.hour, start.minute), end=time(end.hour, end.minute), timezone="UTC")


def _watchlists(engine: Engine) -> dict[str, int]:
    specs = [
        WatchlistSpec(
            name="apple-negative", owner="pm", tickers=("AAPL",),
            condition=SentimentCondition(labels=("negative",), max_score=-0.5),
        ),
        WatchlistSpec(name="oil", owner="pm", topics=("Energy | Oil",), rate_limit=RateLimit(max_notices=2, per="1h")),
        WatchlistSpec(name="tesla-in-title", owner="pm", entities=("tesla",), min_relevance="title"),
        WatchlistSpec(name="msft-quiet", owner="pm", tickers=("MSFT",), quiet_hours=_quiet_now()),
    ]
    return {s.name: add_watchlist(engine, s, now=utc_now()).id for s in specs}


def _items(now: datetime) -> dict[str, tuple]:
    """name -> (EnrichedNews, title, body); expectations are in the test."""
    def item(n: int, title: str, body: str = "", **kw: object) -> tuple:
        return (enriched(f"stream-item-{n:04d}", published_at=now, **kw), title, body)  # type: ignore[arg-type]

    apple = (mention("Apple", 0, ticker="AAPL"),)
    return {
        "apple-at-boundary": item(1, "Apple slides", negative=0.6, positive=0.1, entities=apple),  # score -0.5
        "apple-above-boundary": item(2, "Apple dips", negative=0.55, positive=0.1, entities=apple),  # -0.45
        "apple-positive": item(3, "Apple soars", negative=0.05, positive=0.9, entities=apple),
        **{f"oil-{i}": item(10 + i, f"Crude moves {i}", topic="Energy | Oil") for i in range(4)},
        "tesla-title": item(20, "Tesla recalls cars", entities=(mention("Tesla", 0),)),
        "tesla-body": item(21, "Carmaker recalls", "Shares of Tesla fell", entities=(mention("Tesla", 24),)),
        "msft-quiet": item(30, "Microsoft cuts jobs", entities=(mention("Microsoft", 0, ticker="MSFT"),)),
        "unrelated": item(40, "Fed holds rates", topic="Macro", entities=(mention("Fed", 0),)),
    }


def test_exact_notices_then_redelivery_notifies_nothing(
    pg_engine: Engine, kafka_settings: Settings, kafka_topics: KafkaTopics
) -> None:
    settings = kafka_settings.model_copy(update={"stream_group": kafka_topics.group("stream")})
    bootstrap = settings.kafka_bootstrap or ""
    ids = _watchlists(pg_engine)
    items = _items(utc_now())
    store_articles(pg_engine, list(items.values()))
    records = enriched_records([i for i, _, _ in items.values()]) + [(b"broken", b'{"not": "an EnrichedNews"}')]
    alert = AlertEvent(
        fingerprint="f" * 32, rule="negative-spike", topic="Stock Movement", status="firing",
        window=AlertWindow(start=utc_now() - timedelta(minutes=15), end=utc_now()), labels={"ticker": "AAPL"},
        started_at=utc_now(), model_version="v-test",
    )
    produce(bootstrap, settings.topic_enriched, records)
    produce(bootstrap, settings.topic_alerts, [(alert.fingerprint.encode(), encode(alert))])
    topics = [settings.topic_enriched, settings.topic_alerts]

    with LocalReceiver(SECRET) as rx, running_worker(settings, pg_engine, rx.url) as worker:
        wait_until(lambda: committed_everything(bootstrap, settings.stream_group, topics), "every record committed")
        wait_until(lambda: len(rx.log.deliveries) >= 5, "5 webhooks received")
        first = _notices(pg_engine)
        expected_queued = {
            ("apple-negative", "stream-item-0001"), ("tesla-in-title", "stream-item-0020"), ("apple-negative", None),
        }
        names = {v: k for k, v in ids.items()}
        queued = [(names[n.watchlist_id], n.news_id) for n in first if n.status == "queued"]
        assert expected_queued <= set(queued)
        oil_queued = [nid for name, nid in queued if name == "oil"]
        assert len(queued) == len(expected_queued) + 2 and len(oil_queued) == 2
        suppressed = Counter((names[n.watchlist_id], n.reason) for n in first if n.status == "suppressed")
        assert suppressed == {("oil", "rate_limit"): 2, ("msft-quiet", "quiet_hours"): 1}
        assert worker.totals()["dlq"] == 1

        bodies = {d.webhook_id: d.json for d in rx.log.deliveries}
        assert len(bodies) == 5 and rx.log.rejected == []
        by_type = Counter(b["type"] for b in bodies.values())
        assert by_type == {"watchlist.match": 4, "watchlist.alert": 1}
        matched = {(b["watchlist"]["name"], b["article"]["news_id"]) for b in bodies.values() if b["type"] == "watchlist.match"}
        assert matched == {(name, nid) for name, nid in queued if nid is not None}
        boundary = next(b for b in bodies.values() if b.get("article", {}).get("news_id") == "stream-item-0001")
        assert boundary["article"]["sentiment"]["score"] == -0.5
        assert boundary["hits"][0] | {"sentiment": None} == {
            "on": "ticker", "key": "AAPL", "mention": "Apple", "relevance": "title", "sentiment": None,
            "sentiment_of": "headline",
        }

        # the same records again (a producer retry, a replay of the topic): nothing new
        produce(bootstrap, settings.topic_enriched, records)
        produce(bootstrap, settings.topic_alerts, [(alert.fingerprint.encode(), encode(alert))])
        wait_until(lambda: committed_everything(bootstrap, settings.stream_group, topics), "re-delivery committed")
        assert worker.totals()["duplicates"] == 8  # 5 queued + 3 suppressed, each seen again
    assert _notices(pg_engine) == first
    assert len(rx.log.deliveries) == 5
    with pg_engine.connect() as conn:
        assert set(conn.scalars(select(WebhookDelivery.status))) == {"delivered"}

    dlq = make_consumer(bootstrap, group_id=None, topics=[settings.topic_dlq], client_id="test-dlq")
    try:
        letters = [DeadLetter.model_validate_json(r.value) for r in consume(dlq, 2)]
    finally:
        dlq.close()
    assert {(d.stage, d.source, d.key) for d in letters} == {("decode", settings.topic_enriched, "broken")}


def _notices(engine: Engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(WatchlistNotice.__table__).order_by(WatchlistNotice.id)).all())
