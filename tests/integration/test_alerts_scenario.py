"""Scenario through the real pipeline stores: a negative burst in one topic fires exactly one
alert for that topic and none for the others, then one resolution; events reach Kafka; a real
local receiver gets them signed. Replays (a restart, a backtest) give the same alerts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from standardwebhooks import Webhook

from alerts.backtest import run_backtest
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.engine import AlertEngine, TickResult
from alerts.local_receiver import LocalReceiver
from alerts.receivers import Receiver
from alerts.rules import DEFAULT_RULES_PATH, load_rules
from alerts.state_store import SqlStateStore
from pipeline.config import Settings
from pipeline.db import store_batch
from pipeline.db.activation import activate
from pipeline.db.models import AlertEventRow, WebhookDelivery
from pipeline.kafka.clients import make_consumer, make_producer
from schemas import AlertEvent, decode
from tests.fixtures.alerts_data import MODEL_VERSION, stream
from tests.fixtures.kafka import consume
from workers.alerts_worker import kafka_publisher

pytestmark = pytest.mark.integration

TOPICS = ("Earnings", "Energy | Oil", "Macro", "Markets")
HISTORY_START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
BURST_START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BURST_END = BURST_START + timedelta(minutes=30)
END = BURST_END + timedelta(hours=1)
CADENCE = timedelta(seconds=60)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _store_stream(engine: Engine) -> None:
    raws, enriched = stream(
        TOPICS, HISTORY_START, END, burst_topic="Earnings", burst_start=BURST_START, burst_end=BURST_END
    )
    store_batch(engine, raws, enriched)


def _ticks(engine: AlertEngine, start: datetime, end: datetime) -> list[TickResult]:
    out, now = [], start
    while now <= end:
        out.append(engine.tick(now))
        now += CADENCE
    return out


def _summary(results: list[TickResult]) -> list[tuple[str, str, str, str]]:
    return [(e.event_id, e.event.status, e.event.rule, e.event.topic) for r in results for e in r.events]


def test_negative_burst_fires_once_and_resolves_once(pg_engine: Engine, kafka_settings: Settings) -> None:
    _store_stream(pg_engine)
    activate(pg_engine, MODEL_VERSION, now=HISTORY_START, by="test")  # what live alerts evaluate
    rules = load_rules(DEFAULT_RULES_PATH)
    producer = make_producer(kafka_settings.kafka_bootstrap or "")
    with LocalReceiver(SECRET) as rx:
        receivers = {
            "desk": Receiver(name="desk", url=rx.url, secret=SECRET),
            "chat": Receiver(name="chat", url=rx.url, secret=SECRET, format="slack"),
        }
        store = SqlStateStore(pg_engine, receivers, public_url="https://finsent.example")
        engine = AlertEngine(
            pg_engine,
            rules,
            store,
            receivers=sorted(receivers),
            publish=kafka_publisher(producer, kafka_settings.topic_alerts),
        )
        first_half = _ticks(engine, BURST_START - timedelta(minutes=10), BURST_START + timedelta(minutes=25))
        # a restart: a new engine on the same database carries on where the old one stopped
        engine2 = AlertEngine(
            pg_engine,
            rules,
            SqlStateStore(pg_engine, receivers),
            receivers=sorted(receivers),
            publish=kafka_publisher(producer, kafka_settings.topic_alerts),
        )
        second_half = _ticks(engine2, BURST_START + timedelta(minutes=26), END)
        results = first_half + second_half
        events = _summary(results)
        assert [(s, r, t) for _, s, r, t in events] == [
            ("firing", "negative-spike", "Earnings"),
            ("resolved", "negative-spike", "Earnings"),
        ], events
        assert all(r.model_version == MODEL_VERSION for r in results)
        fired_at = next(r.now for r in results if r.firing)
        assert BURST_START < fired_at < BURST_END

        dispatcher = Dispatcher(pg_engine, receivers, policy=RetryPolicy(base_s=0.05, cap_s=0.2))
        stats = dispatcher.drain()
        dispatcher.close()
        assert stats.delivered == 4 and stats.failed == 0
        assert rx.log.rejected == []
        deliveries = list(rx.log.deliveries)
        bodies = [d.json for d in rx.log.deliveries if "blocks" not in d.json]
        slack = [d.json for d in rx.log.deliveries if "blocks" in d.json]
    producer.close()

    firing, resolved = bodies
    assert [m["text"].split("]")[0] for m in slack] == [
        ":rotating_light: [FIRING",
        ":white_check_mark: [RESOLVED",
    ]
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    assert firing["fingerprint"] == resolved["fingerprint"] and firing["topic"] == "Earnings"
    assert firing["counts"]["articles"] >= 8 and firing["negative_share"] >= 0.5
    assert firing["significance"]["z"] >= 3.0 and firing["baseline"]["negative_share"] < 0.25
    assert firing["headlines"] and all(
        h["url"].startswith("https://news.example.com/") for h in firing["headlines"]
    )
    assert firing["entities"][0]["ticker"] == "ACME"
    assert firing["link"] == f"https://finsent.example/alerts/{firing['fingerprint']}"

    with pg_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AlertEventRow)) == 2
        assert conn.scalar(select(func.count()).where(WebhookDelivery.status == "delivered")) == 4

    consumer = make_consumer(
        kafka_settings.kafka_bootstrap or "", group_id=None, topics=[kafka_settings.topic_alerts]
    )
    try:
        records = consume(consumer, 2)
    finally:
        consumer.close()
    published = sorted((decode(r.value, AlertEvent) for r in records), key=lambda e: e.emitted_at)
    assert [(e.status, e.topic) for e in published] == [("firing", "Earnings"), ("resolved", "Earnings")]  # type: ignore[union-attr]

    # A backtest over the same history gives the same alerts, ids included.
    backtest = run_backtest(pg_engine, rules, MODEL_VERSION, BURST_START - timedelta(minutes=10), END, CADENCE)
    assert [(e.event_id, e.event.status, e.event.rule, e.event.topic) for e in backtest.events] == events
    assert {e.event.model_version for e in backtest.events} == {MODEL_VERSION}

    # What the receiver got is byte for byte the stored outbox body, and a third-party Standard
    # Webhooks verifier accepts its signature.
    with pg_engine.connect() as conn:
        stored = dict(conn.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.payload)).all())
    for delivery in deliveries:
        assert delivery.body.decode() == stored[delivery.webhook_id]
        assert Webhook(SECRET).verify(delivery.body, delivery.headers) == json.loads(delivery.body)
    assert firing["model_version"] == MODEL_VERSION
