"""Early and final evaluations on Postgres, the alerts worker driven by an injected wall clock
(a 5 s grid, 60 s allowed lateness): a burst stored at once fires at the early evaluation of the
first tick that counts it, and its webhook says so; a burst completed only by a late article fires
once, at the final evaluation of the one tick it holds at; neither fires twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.dispatcher import Dispatcher
from alerts.engine import AlertEngine
from alerts.local_receiver import LocalReceiver
from alerts.receivers import Receiver
from alerts.rules import parse_rules
from alerts.state_store import SqlStateStore
from pipeline.db import store_batch
from pipeline.db.models import AlertEventRow, AlertEvidence
from schemas import EnrichedNews, RawNews
from tests.fixtures.alerts_data import MODEL_VERSION, item, stream
from workers.alerts_worker import AlertsWorker

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""A tick of the 5 s grid."""
STEP = timedelta(seconds=5)
OFFSET = timedelta(milliseconds=50)
RULES = parse_rules(
    """
version: 1
rules:
  - {name: neg, kind: negative_spike, window: 1m, baseline: 2h, min_count: 4, min_negative_share: 0.5,
     min_z: 1.0, for: 1, keep_firing_for: 0s, receivers: [desk]}
"""
)


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver(SECRET) as rx:
        yield rx


class Live:
    """The worker's scheduled job, run by hand at wall times on the grid."""

    def __init__(self, engine: Engine, receiver: LocalReceiver) -> None:
        receivers = {"desk": Receiver(name="desk", url=receiver.url, secret=SecretStr(SECRET))}
        self.wall = T - timedelta(minutes=1) + OFFSET
        store = SqlStateStore(engine, receivers)
        alerts = AlertEngine(engine, RULES, store, model_version=MODEL_VERSION)
        self.worker = AlertsWorker(alerts, Dispatcher(engine, receivers), interval_s=5, lateness_s=60,
                                   clock=lambda: self.wall)

    def until(self, end: datetime, on_tick: Callable[[datetime], None] = lambda _: None) -> None:
        while self.wall <= end:
            on_tick(self.wall)
            self.worker.evaluate_once()
            self.worker.evaluate_early()
            self.wall += STEP


def negatives(*published: datetime, topic: str = "Earnings") -> tuple[list[RawNews], list[EnrichedNews]]:
    pairs = [item(topic, at, "negative", 1000 + n) for n, at in enumerate(published)]
    return [r for r, _ in pairs], [e for _, e in pairs]


def calm(engine: Engine) -> None:
    """Two hours of ordinary news (20% negative) ending two minutes before T."""
    store_batch(engine, *stream(("Earnings",), T - timedelta(hours=2), T - timedelta(minutes=2)))


def firings(engine: Engine) -> list[tuple[datetime, str]]:
    table = AlertEventRow.__table__
    query = select(table.c.emitted_at, table.c.evaluation).where(table.c.status == "firing")
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(query)]


def test_a_burst_stored_at_once_fires_on_the_early_evaluation(pg_engine: Engine, receiver: LocalReceiver) -> None:
    calm(pg_engine)
    burst = [T - timedelta(seconds=s) for s in (38, 31, 24, 17, 3)]  # the last one completes the burst
    live = Live(pg_engine, receiver)
    live.until(T - STEP + OFFSET)
    store_batch(pg_engine, *negatives(*burst))  # stored just before T: the early evaluation of T counts it
    live.until(T + OFFSET)
    assert firings(pg_engine) == [(T, "early")]
    assert live.worker.totals["fired_early"] == 1
    with pg_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AlertEvidence)) == len(burst)

    live.worker.dispatch_once()
    assert [d.json["evaluation"] for d in receiver.log.deliveries] == ["early"]

    live.until(T + timedelta(seconds=70) + OFFSET)  # every tick evaluated finally: nothing fires again
    assert firings(pg_engine) == [(T, "early")]
    assert live.worker.totals["fired"] == live.worker.totals["fired_early"] == 1
    live.worker.dispatcher.close()


def test_a_burst_completed_by_a_late_article_fires_once_on_the_final_evaluation(
    pg_engine: Engine, receiver: LocalReceiver
) -> None:
    """Three negatives on time; the fourth, published at T - 5 s, is stored 30 s after T. Only
    tick T counts all four (one tick later the first has left the 1-minute window), so no early
    evaluation ever holds, and the final evaluation of T, 60 s after it, fires."""
    calm(pg_engine)
    store_batch(pg_engine, *negatives(*(T - timedelta(seconds=s) for s in (58, 50, 40))))
    late = negatives(T - timedelta(seconds=5))

    def store_late(wall: datetime) -> None:
        if wall == T + timedelta(seconds=30) + OFFSET:
            store_batch(pg_engine, *late)

    live = Live(pg_engine, receiver)
    live.until(T + timedelta(seconds=55) + OFFSET, store_late)
    assert firings(pg_engine) == [], "no early evaluation holds"
    live.until(T + timedelta(seconds=90) + OFFSET)
    assert firings(pg_engine) == [(T, "final")]
    assert live.worker.totals["fired"] == 1 and live.worker.totals["fired_early"] == 0
    live.worker.dispatch_once()  # one tick later the window has lost an article: resolved
    assert [(d.json["status"], d.json["evaluation"]) for d in receiver.log.deliveries] == [
        ("firing", "final"), ("resolved", "final")
    ]
    live.worker.dispatcher.close()
