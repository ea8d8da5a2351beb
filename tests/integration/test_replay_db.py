"""Replay through the real broker (Tansu) and Postgres: new model versions, the live group left
alone, interruption and resume, a Kafka topic from a point in time (where Tansu's
`offsets_for_times` is wrong)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from kafka import TopicPartition
from sqlalchemy import Engine, func, select

from pipeline.config import Settings
from pipeline.db import Enrichment, make_engine
from pipeline.kafka.clients import make_consumer, make_producer, topic_end_offsets
from pipeline.model import Predictor
from pipeline.replay.checkpoint import run_id
from pipeline.replay.offsets import offsets_for_time
from pipeline.replay.sources import KafkaTopicSource, StoredArticles
from pipeline.replay.versioned import with_version
from schemas import RawNews, encode
from tests.fixtures.db import _create_database, _drop_database, _with_database
from tests.fixtures.fake_predictor import KeywordPredictor
from tests.fixtures.kafka import KafkaTopics, consume
from tests.fixtures.replay_data import START, articles, enrichment_rows, stored
from workers.replay import ReplayPlan, ReplaySummary, run_replay

pytestmark = pytest.mark.integration


def versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Enrichment.model_version, func.count()).group_by(Enrichment.model_version))
        return {str(v): int(n) for v, n in rows}


def replay(
    engine: Engine,
    settings: Settings,
    predictor: object,
    *,
    via: str,
    bootstrap: str | None = None,
    stop: threading.Event | None = None,
    source: object | None = None,
    batch_size: int = 32,
) -> ReplaySummary:
    args = {"kind": "db", "via": via, "model_version": predictor.model_version, "db": str(engine.url)}  # type: ignore[attr-defined]
    plan = ReplayPlan(
        source=source or StoredArticles(engine),  # type: ignore[arg-type]
        run_id=run_id(args),
        arguments=args,
        via=via,  # type: ignore[arg-type]
        batch_size=batch_size,
        chunk_batches=4,
    )
    return run_replay(plan, settings=settings, engine=engine, predictor=predictor,  # type: ignore[arg-type]
                      stop=stop or threading.Event(), bootstrap=bootstrap, progress=False)


@pytest.fixture
def settings(kafka_settings: Settings, pg_url: str, tmp_path: Path) -> Settings:
    return kafka_settings.model_copy(update={"data_dir": tmp_path / "data"})


@pytest.fixture
def second_pg_engine(pg_admin_url: str, _pg_template: str) -> Iterator[Engine]:
    name = _create_database(pg_admin_url, template=_pg_template)
    engine = make_engine(_with_database(pg_admin_url, name))
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_database(pg_admin_url, name)


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    consumer = make_consumer(bootstrap, group_id=group)
    try:
        parts = sorted(topic_end_offsets(bootstrap, topic))
        return {p: consumer.committed(TopicPartition(topic, p)) for p in parts}
    finally:
        consumer.close(autocommit=False)


N_PROOF = 5_000


def test_replay_5000_stored_articles_under_a_new_version_leaves_the_live_group_alone(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, settings: Settings, pg_engine: Engine
) -> None:
    news = articles(N_PROOF, every=timedelta(seconds=20))
    stored(pg_engine, news)
    first = replay(pg_engine, settings, KeywordPredictor("live-1"), via="process", batch_size=500)
    assert first.enriched == N_PROOF

    # a live model group that has committed offsets on the raw topic
    producer = make_producer(kafka_bootstrap)
    for item in news[:40]:
        producer.send(kafka_topics.raw, key=item.id.encode(), value=encode(item))
    producer.flush()
    producer.close()
    live = make_consumer(kafka_bootstrap, group_id=settings.model_group, topics=[kafka_topics.raw])
    consume(live, 25)
    live.commit()
    live.close(autocommit=False)
    live_before = committed(kafka_bootstrap, settings.model_group, kafka_topics.raw)
    assert sum(o or 0 for o in live_before.values()) >= 25
    ends_before = {t: topic_end_offsets(kafka_bootstrap, t) for t in (kafka_topics.raw, kafka_topics.enriched)}

    started = time.monotonic()
    summary = replay(pg_engine, settings, with_version(KeywordPredictor("live-1"), "replay-2"), via="kafka",
                     bootstrap=kafka_bootstrap, batch_size=100)
    seconds = time.monotonic() - started
    assert (summary.read, summary.enriched, summary.already_stored, summary.dlq) == (N_PROOF, N_PROOF, 0, 0)
    assert versions(pg_engine) == {"live-1": N_PROOF, "replay-2": N_PROOF}
    assert committed(kafka_bootstrap, settings.model_group, kafka_topics.raw) == live_before
    assert {t: topic_end_offsets(kafka_bootstrap, t) for t in ends_before} == ends_before
    assert sum(topic_end_offsets(kafka_bootstrap, kafka_topics.replay).values()) == N_PROOF
    assert seconds < 120

    again = replay(pg_engine, settings, with_version(KeywordPredictor("live-1"), "replay-2"), via="kafka",
                   bootstrap=kafka_bootstrap, batch_size=100)
    assert (again.enriched, again.already_stored) == (0, N_PROOF)
    assert versions(pg_engine) == {"live-1": N_PROOF, "replay-2": N_PROOF}


class StopAfter:
    """A predictor that sets `stop` after `batches` predict calls (an interruption mid-chunk)."""

    def __init__(self, inner: KeywordPredictor, stop: threading.Event, batches: int) -> None:
        self.inner, self.stop, self.left = inner, stop, batches
        self.model_version = inner.model_version

    def predict(self, texts: Sequence[str]) -> object:
        self.left -= 1
        if self.left == 0:
            self.stop.set()
        return self.inner.predict(texts)


@pytest.mark.parametrize("via", ["kafka", "process"])
def test_interrupt_half_way_then_resume_gives_the_rows_of_an_uninterrupted_run(
    via: str, kafka_bootstrap: str, settings: Settings, pg_engine: Engine, second_pg_engine: Engine
) -> None:
    news = articles(600)
    stored(pg_engine, news)
    stored(second_pg_engine, news)
    bootstrap = kafka_bootstrap if via == "kafka" else None

    whole = replay(second_pg_engine, settings, KeywordPredictor("v2"), via=via, bootstrap=bootstrap)
    assert whole.enriched == 600

    stop = threading.Event()
    part = replay(pg_engine, settings, StopAfter(KeywordPredictor("v2"), stop, batches=9), via=via,
                  bootstrap=bootstrap, stop=stop)
    assert part.interrupted and 0 < versions(pg_engine)["v2"] < 600
    rest = replay(pg_engine, settings, KeywordPredictor("v2"), via=via, bootstrap=bootstrap)
    assert not rest.interrupted and rest.resumed_from is not None
    assert rest.read == 600 and rest.enriched + rest.already_stored + rest.dlq == 600
    assert enrichment_rows(pg_engine) == enrichment_rows(second_pg_engine)


def test_kafka_replay_from_a_time_starts_at_the_right_record_on_tansu(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, settings: Settings, pg_engine: Engine
) -> None:
    news = articles(400, every=timedelta(seconds=10))
    producer = make_producer(kafka_bootstrap)
    for item in news:  # record timestamp = event time, in order (as a time-ordered archive)
        producer.send(kafka_topics.raw, key=item.id.encode(), value=encode(item),
                      timestamp_ms=int(item.published_at.timestamp() * 1000))
    producer.flush()
    producer.close()
    since = news[250].published_at
    expected = {n.id for n in news if n.published_at >= since}

    probe = make_consumer(kafka_bootstrap, group_id=None)
    try:
        broker = probe.offsets_for_times({TopicPartition(kafka_topics.raw, p): int(since.timestamp() * 1000)
                                          for p in (0, 1)})
        found = offsets_for_time(probe, kafka_bootstrap, kafka_topics.raw, int(since.timestamp() * 1000))
    finally:
        probe.close()
    wrong = [p for p, s in found.items() if broker[TopicPartition(kafka_topics.raw, p)] is None
             or broker[TopicPartition(kafka_topics.raw, p)].offset != s.offset]
    assert wrong, "expected Tansu's offsets_for_times to be wrong here (see KAFKA.md)"
    assert all(not found[p].verified_broker_answer for p in wrong)
    assert all(s.probes <= 12 for s in found.values())

    source = KafkaTopicSource(kafka_bootstrap, kafka_topics.raw, since=since)
    items = list(source.items(None))
    assert {i.news.id for i in items if i.news} == expected
    per_partition: dict[int, list[RawNews]] = {}
    for item in items:
        assert item.news is not None
        per_partition.setdefault(item.origin.partition or 0, []).append(item.news)
    for part_items in per_partition.values():
        assert part_items[0].published_at >= since  # the first record read is already in range
    for p, start in found.items():
        assert start.offset == min((i.origin.offset for i in items if i.origin.partition == p), default=start.offset)
    resumed = list(KafkaTopicSource(kafka_bootstrap, kafka_topics.raw, since=since).items(items[59].position))
    where = [(i.origin.partition, i.origin.offset) for i in resumed]
    assert len(where) == len(set(where)) and set(where) == {(i.origin.partition, i.origin.offset) for i in items[60:]}

    summary = replay(pg_engine, settings, KeywordPredictor("k1"), via="process",
                     source=KafkaTopicSource(kafka_bootstrap, kafka_topics.raw, since=since))
    assert summary.read == len(expected) == summary.enriched
    with pg_engine.connect() as conn:
        assert set(conn.scalars(select(Enrichment.news_id))) == expected
        first = conn.scalar(select(func.min(Enrichment.published_at)))
    assert first == since  # the original published_at is kept


def test_replay_with_the_shipped_model(
    kafka_bootstrap: str, settings: Settings, pg_engine: Engine, predictor: Predictor
) -> None:
    news = articles(200, start=START)
    stored(pg_engine, news)
    summary = replay(pg_engine, settings, with_version(predictor, predictor.model_version + "+replay"),
                     via="kafka", bootstrap=kafka_bootstrap)
    assert summary.enriched == 200 and versions(pg_engine) == {predictor.model_version + "+replay": 200}
