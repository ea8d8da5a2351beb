"""Faults and settings of the model worker against the real broker and Postgres: poison rows, a
NUL headline from a foreign producer, a broker restart, more workers than partitions, and the
documented `FINSENT_BATCH_*` / `FINSENT_MODEL_THREADS` / `FINSENT_MODEL_QUANTIZE` settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import torch
from kafka import KafkaConsumer
from sqlalchemy import Engine, select, text

from pipeline.config import Settings
from pipeline.db import Article
from pipeline.kafka.broker import EmbeddedBroker, free_port
from pipeline.kafka.clients import committed_offsets, ensure_topics, make_consumer, topic_end_offsets
from pipeline.model import Predictor
from schemas import DeadLetter, RawNews, decode, encode
from tests.fixtures.kafka import TEST_PARTITIONS, KafkaTopics, consume
from tests.fixtures.waiting import WAIT_S, wait_until
from tests.integration.test_model_worker import (
    distinct_enriched_ids,
    enrichment_count,
    news_items,
    produce,
    worker_for,
)
from workers.model_worker import ModelWorker, ModelWorkerConfig, predictor_from_settings

pytestmark = pytest.mark.integration


def dead_letters(bootstrap: str, topics: KafkaTopics, count: int) -> list[DeadLetter]:
    reader = make_consumer(bootstrap, group_id=topics.group("dlq-check"), topics=[topics.dlq])
    try:
        letters = [decode(r.value, DeadLetter) for r in consume(reader, count, timeout_s=WAIT_S)]
    finally:
        reader.close()
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    return letters  # type: ignore[return-value]


def reconciles(worker: ModelWorker) -> bool:
    t = worker.totals
    return t.consumed == t.stored + t.deduplicated + t.dlq


def test_rows_postgres_refuses_are_dead_lettered_and_the_rest_stored(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    with pg_engine.begin() as conn:  # a real constraint error, raised by Postgres itself
        conn.execute(text("ALTER TABLE articles ADD CONSTRAINT no_poison CHECK (title NOT LIKE '%POISON%')"))
    items = news_items(40, tag="poison")
    poisoned = {3, 17, 18, 31}
    items = [
        n.model_copy(update={"title": n.title + " POISON"}) if k in poisoned else n for k, n in enumerate(items)
    ]
    produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
    worker, consumer = worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    try:
        totals = worker.run(threading.Event(), until=lambda t: t.consumed >= len(items))
    finally:
        consumer.close(autocommit=False)
    assert totals.stored == len(items) - len(poisoned) and totals.dlq == len(poisoned) and reconciles(worker)
    print(f"figures: {len(items)} items, {len(poisoned)} refused by a CHECK: {totals.as_dict()}")
    assert distinct_enriched_ids(pg_engine) == {n.id for k, n in enumerate(items) if k not in poisoned}
    letters = dead_letters(kafka_bootstrap, kafka_topics, len(poisoned))
    assert {letter.news_id for letter in letters} == {items[k].id for k in poisoned}
    for letter in letters:
        assert letter.stage == "store" and letter.error_type == "IntegrityError"
        assert "CheckViolation" in letter.reason and "no_poison" in letter.reason
        assert isinstance(decode(letter.payload, RawNews), RawNews)  # the original record, byte for byte


def test_a_nul_headline_from_a_foreign_producer_is_stored_cleaned_and_nothing_behind_it_stalls(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    raw = {
        "source": "other-client",
        "title": "Acme\u0000 recalls \u202eall\u202c products \ud800",
        "body": "NUL\u0000 in the body too",
        "published_at": "2026-06-01T09:00:00+00:00",
    }
    foreign = json.dumps(raw).encode()  # what a non-finsent client puts on news.raw: JSON escapes
    behind = news_items(22, tag="behind")
    produce(
        kafka_bootstrap,
        kafka_topics.raw,
        [(b"k", foreign)] + [(n.id.encode(), encode(n)) for n in behind],
    )
    worker, consumer = worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    try:
        worker.run(threading.Event(), until=lambda t: t.consumed >= len(behind) + 1)
    finally:
        consumer.close(autocommit=False)
    assert worker.totals.dlq == 0 and worker.totals.stored == len(behind) + 1 and reconciles(worker)
    with pg_engine.connect() as conn:
        title, body = conn.execute(select(Article.title, Article.body).where(Article.source == "other-client")).one()
    assert (title, body) == ("Acme recalls all products \ufffd", "NUL in the body too")


def test_results_the_broker_does_not_acknowledge_hold_the_batch_uncommitted_until_they_are(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    items = news_items(12, tag="unacked")
    group = kafka_topics.group("model")
    produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
    # a producer that cannot send an EnrichedNews: every emit fails with a ProduceError
    worker, consumer = worker_for(
        kafka_bootstrap,
        kafka_topics,
        pg_engine,
        predictor,
        producer_overrides={"max_request_size": 200},
        retry_initial_s=0.1,
        retry_max_s=0.5,
    )
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        retries = worker.metrics.kafka_retries.labels("emit")
        wait_until(lambda: retries._value.get() >= 5, "emit retries")
        assert runner.is_alive() and not worker.emitting_ok
        assert {tp.partition for tp in consumer.paused()} == {tp.partition for tp in consumer.assignment()}
        assert committed_offsets(kafka_bootstrap, group, kafka_topics.raw) == {}  # never committed past
        assert enrichment_count(pg_engine) > 0  # stored (idempotent), just not acknowledged downstream
    finally:
        stop.set()
        runner.join(timeout=WAIT_S)
        consumer.close(autocommit=False)
    assert not runner.is_alive() and worker.totals.consumed == 0  # abandoned, not counted, not committed

    healthy, consumer = worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    try:
        totals = healthy.run(threading.Event(), until=lambda t: t.consumed >= len(items))
    finally:
        consumer.close(autocommit=False)
    assert totals.produced == len(items) and reconciles(healthy)
    assert distinct_enriched_ids(pg_engine) == {n.id for n in items}
    assert committed_offsets(kafka_bootstrap, group, kafka_topics.raw) == topic_end_offsets(
        kafka_bootstrap, kafka_topics.raw
    )


REJOIN_S = 15.0
"""The test's `rejoin_after_s` (60 s in production): the stuck-rejoin case happens on a loaded box."""


def test_broker_restart_topics_recreated_group_rejoined_nothing_acknowledged_lost(
    pg_engine: Engine, predictor: Predictor
) -> None:
    port = free_port()
    topics = KafkaTopics.unique("restart")
    broker = EmbeddedBroker(port=port).start()
    bootstrap = broker.bootstrap
    ensure_topics(bootstrap, [topics.raw, topics.enriched, topics.dlq], partitions=TEST_PARTITIONS)
    before, after = news_items(30, tag="before"), news_items(30, tag="after")
    produce(bootstrap, topics.raw, [(n.id.encode(), encode(n)) for n in before])
    worker, consumer = worker_for(
        bootstrap, topics, pg_engine, predictor, retry_initial_s=0.2, retry_max_s=1.0, rejoin_after_s=REJOIN_S
    )
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        wait_until(lambda: worker.totals.stored >= len(before), "the first items stored")
        broker.stop()
        broker = EmbeddedBroker(port=port).start()  # in-memory storage: every topic and offset is gone
        restarted = time.monotonic()
        wait_until(lambda: _has_topics(bootstrap, topics), "the worker to re-create its topics")
        recreated = time.monotonic() - restarted
        produce(bootstrap, topics.raw, [(n.id.encode(), encode(n)) for n in after])
        wait_until(
            lambda: enrichment_count(pg_engine) >= len(before) + len(after),
            "items after the restart stored",
            REJOIN_S + WAIT_S,
        )
        print(
            f"figures: topics re-created {recreated:.1f} s after the broker restart, "
            f"{len(after)} new items stored {time.monotonic() - restarted:.1f} s after it"
        )
        assert runner.is_alive(), "the worker never stopped"
    finally:
        stop.set()
        runner.join(timeout=30)
        consumer.close(autocommit=False)
        broker.stop()
    assert distinct_enriched_ids(pg_engine) == {n.id for n in before + after}
    assert worker.totals.dlq == 0 and reconciles(worker)


def _has_topics(bootstrap: str, topics: KafkaTopics) -> bool:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="finsent-test")
    try:
        return {topics.raw, topics.enriched, topics.dlq} <= set(admin.list_topics())
    finally:
        admin.close()


def test_more_workers_than_partitions_leaves_one_idle_until_a_member_leaves(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    workers = [worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor) for _ in range(TEST_PARTITIONS + 1)]
    stops = [threading.Event() for _ in workers]
    threads = [threading.Thread(target=w.run, args=(stop,)) for (w, _), stop in zip(workers, stops, strict=True)]
    for thread in threads:
        thread.start()
    leaving = -1
    try:
        owners = wait_until(lambda: _owners(workers), "the group to settle: one partition each, one idle", 2 * WAIT_S)
        idle = next(k for k, (_, consumer) in enumerate(workers) if not consumer.assignment())
        first = news_items(20, tag="first")
        produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in first])
        wait_until(lambda: enrichment_count(pg_engine) >= len(first), "items stored by the assigned workers")
        assert workers[idle][0].totals.consumed == 0, "an idle member reads nothing"
        leaving = next(k for k in owners)
        stops[leaving].set()
        threads[leaving].join(timeout=WAIT_S)
        workers[leaving][1].close(autocommit=False)  # leaves the group: its partition moves
        left = time.monotonic()
        wait_until(lambda: bool(workers[idle][1].assignment()), "the idle member to take over", 2 * WAIT_S)
        print(f"figures: the idle member took over {time.monotonic() - left:.1f} s after a member left")
        second = news_items(20, tag="second")
        produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in second])
        wait_until(lambda: enrichment_count(pg_engine) >= len(first) + len(second), "items after the hand-over")
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for k, (_, consumer) in enumerate(workers):
            if k != leaving:
                consumer.close(autocommit=False)
    assert workers[idle][0].totals.consumed > 0
    assert distinct_enriched_ids(pg_engine) == {n.id for n in first + second}
    assert all(reconciles(w) for w, _ in workers)


def _owners(workers: list[tuple[ModelWorker, object]]) -> dict[int, int] | None:
    """{worker index: its one partition} when exactly TEST_PARTITIONS members own one each."""
    assignments = [consumer.assignment() for _, consumer in workers]  # type: ignore[attr-defined]
    owned = {k: next(iter(a)).partition for k, a in enumerate(assignments) if len(a) == 1}
    if len(owned) == TEST_PARTITIONS and sum(len(a) for a in assignments) == TEST_PARTITIONS:
        return owned
    return None


@pytest.fixture
def env_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("FINSENT_BATCH_MAX_ITEMS", "FINSENT_BATCH_MAX_MS", "FINSENT_MODEL_THREADS", "FINSENT_MODEL_QUANTIZE"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def _worker_from_env(
    bootstrap: str, topics: KafkaTopics, engine: Engine, predictor: Predictor
) -> tuple[ModelWorker, KafkaConsumer]:
    """A worker whose batch settings come from the FINSENT_BATCH_* environment, as the CLI's do."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = ModelWorkerConfig.from_settings(settings, topic_in=topics.raw)
    return worker_for(
        bootstrap,
        topics,
        engine,
        predictor,
        max_poll_records=settings.batch_max_items,
        batch_max_items=config.batch_max_items,
        batch_max_ms=config.batch_max_ms,
    )


def test_batch_max_items_bounds_every_batch(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    pg_engine: Engine,
    predictor: Predictor,
    env_settings: pytest.MonkeyPatch,
) -> None:
    env_settings.setenv("FINSENT_BATCH_MAX_ITEMS", "4")
    items = news_items(30, tag="bounded")
    produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
    worker, consumer = _worker_from_env(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    try:
        worker.run(threading.Event(), until=lambda t: t.consumed >= len(items))
    finally:
        consumer.close(autocommit=False)
    sizes = _histogram(worker, "finsent_model_batch_size")
    assert sizes["4.0"] == worker.totals.batches >= len(items) / 4  # every batch within the le=4 bucket
    assert worker.totals.stored == len(items)


def test_batch_max_ms_closes_a_batch_by_time_not_size(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    pg_engine: Engine,
    predictor: Predictor,
    env_settings: pytest.MonkeyPatch,
) -> None:
    env_settings.setenv("FINSENT_BATCH_MAX_MS", "150")
    worker, consumer = _worker_from_env(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    assert worker.config.batch_max_items == 128 and worker.config.batch_max_ms == 150
    lone = news_items(1, tag="lone")
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in lone])
        wait_until(lambda: worker.totals.stored == 1, "the lone item stored without 127 more")
    finally:
        stop.set()
        runner.join(timeout=30)
        consumer.close(autocommit=False)
    assert _histogram(worker, "finsent_model_batch_size")["1.0"] == worker.totals.batches == 1


def _histogram(worker: ModelWorker, name: str) -> dict[str, float]:
    """Cumulative bucket counts of a histogram, by upper bound (`le`)."""
    (family,) = [m for m in worker.metrics.registry.collect() if m.name == name]
    return {s.labels["le"]: s.value for s in family.samples if s.name == f"{name}_bucket"}


def test_model_threads_and_quantize_settings_take_effect(env_settings: pytest.MonkeyPatch) -> None:
    env_settings.setenv("FINSENT_MODEL_THREADS", "1")
    env_settings.setenv("FINSENT_MODEL_QUANTIZE", "true")
    env_settings.setenv("FINSENT_MODEL_DEVICE", "cpu")
    before = torch.get_num_threads()
    try:
        quantized = predictor_from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    plain = predictor_from_settings(Settings(_env_file=None, model_quantize=False))  # type: ignore[call-arg]
    assert quantized.model_version == f"{plain.model_version}+int8"
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in quantized.model.modules())
    assert not any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in plain.model.modules())
    (q,) = quantized.predict(["Oil prices jump after OPEC agrees deeper output cuts"])
    (p,) = plain.predict(["Oil prices jump after OPEC agrees deeper output cuts"])
    assert q.topic == p.topic and q.sentiment == p.sentiment  # same answer, other numerics
