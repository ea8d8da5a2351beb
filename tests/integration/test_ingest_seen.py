"""Durable dedup (`ingest_seen`) on Postgres and SQLite: shared by processes, survives restarts, expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from pipeline.db.models import IngestSeen
from pipeline.ingest.dedup import DedupKey, Deduplicator
from pipeline.ingest.publisher import IngestPublisher
from pipeline.ingest.seen import SeenStore
from schemas import RawNews
from tests.fixtures.fake_producer import FakeProducer

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 27, 14, tzinfo=UTC)
LONG = "Northwind Energy shares jump after company raises full-year production guidance"


def news(title: str, url: str | None = None, at: datetime = T) -> RawNews:
    return RawNews(source="wire", title=title, url=url, published_at=at)


def publisher(engine: Engine, clock: list[datetime], retention: timedelta = timedelta(days=7)) -> IngestPublisher:
    """One ingest "process": its own producer and in-flight memory, the shared database."""
    seen = SeenStore(engine, retention=retention, clock=lambda: clock[0])
    return IngestPublisher(FakeProducer(), Deduplicator(ttl=timedelta(hours=48)), seen=seen, clock=lambda: clock[0])


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(IngestSeen)) or 0)


def test_a_second_process_and_a_restart_do_not_resend(db_engine: Engine) -> None:
    clock = [T]
    first = publisher(db_engine, clock)
    items = [news("Acme beats estimates", "https://example.com/a"), news(LONG, "https://example.com/b")]
    assert [o.kind for o in first.publish_many(items, source="t")] == ["produced", "produced"]
    assert rows(db_engine) == 2 and len(first.deduplicator) == 0  # in flight only until recorded
    second = publisher(db_engine, clock)  # another process, or this one restarted
    repeats = [
        news("Acme beats estimates (update)", "https://example.com/a?utm_source=x"),
        news("Acme beats estimates", "https://other.example.com/a"),
        news(LONG.replace("after company raises", "after the company raises its"), "https://c.example.com/c"),
    ]
    outcomes = second.publish_many(repeats, source="t")
    assert [o.verdict.kind for o in outcomes if o.verdict] == ["duplicate_id", "duplicate_title", "near_duplicate"]
    assert all(o.verdict and o.verdict.duplicate_of in {i.id for i in items} for o in outcomes)
    assert second.producer.sent == []  # type: ignore[attr-defined]


def test_title_matches_respect_the_event_time_gap_but_ids_do_not(db_engine: Engine) -> None:
    clock = [T]
    one = publisher(db_engine, clock)
    one.publish_many([news("Stocks to watch this morning", at=T)], source="t")
    later = news("Stocks to watch this morning", at=T + timedelta(days=3))
    assert publisher(db_engine, clock).publish_many([later], source="t")[0].kind == "produced"


def test_rows_expire_after_the_retention_and_are_pruned(db_engine: Engine) -> None:
    clock = [T]
    pub = publisher(db_engine, clock, retention=timedelta(hours=1))
    item = news("Acme beats estimates", "https://example.com/a")
    pub.publish_many([item], source="t")
    clock[0] = T + timedelta(minutes=30)
    assert pub.publish_many([item], source="t")[0].kind == "duplicate"
    clock[0] = T + timedelta(hours=2)
    assert pub.seen is not None and pub.seen.candidates([DedupKey.of(item)]) == []
    assert pub.seen.prune() == 1 and rows(db_engine) == 0
    assert pub.publish_many([item], source="t")[0].kind == "produced"


def test_a_failed_batch_leaves_no_row(db_engine: Engine) -> None:
    clock = [T]
    pub = publisher(db_engine, clock)
    pub.producer = FakeProducer(fail_topics={"news.raw"})
    with pytest.raises(Exception, match="not acknowledged"):
        pub.publish_many([news("Acme beats estimates", "https://example.com/a")], source="t")
    assert rows(db_engine) == 0


def test_simhash_round_trips_through_a_signed_column(db_engine: Engine) -> None:
    """A simhash with the top bit set is stored as a negative BIGINT and read back unsigned."""
    store = SeenStore(db_engine, clock=lambda: T)
    key = DedupKey("a" * 32, "b" * 32, (1 << 64) - 5, "c" * 16, T)
    store.record([key])
    assert store.candidates([key]) == [key]
