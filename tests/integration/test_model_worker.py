"""The live path through the real broker and Postgres: news.raw -> model worker -> Postgres + news.enriched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from pipeline.db import Enrichment, make_engine, store_batch
from pipeline.db.activation import active_version
from pipeline.enrichment import PredictorLike
from pipeline.kafka.broker import free_port
from pipeline.kafka.clients import (
    committed_offsets,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_end_offsets,
)
from pipeline.model import Predictor
from schemas import DeadLetter, EnrichedNews, RawNews, decode, encode
from tests.fixtures.kafka import TEST_PARTITIONS, KafkaTopics, consume, malformed_raw_payloads
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.waiting import WAIT_S, wait_until
from workers.model_worker import CONSUMER_OVERRIDES, PRODUCER_OVERRIDES, ModelWorker, ModelWorkerConfig

ROOT = Path(__file__).resolve().parents[2]
HEADLINES = (
    "Fed signals rate cut as Apple shares slide",
    "Oil prices jump after OPEC agrees deeper output cuts",
    "Goldman Sachs upgrades Tesla to buy, sees 30% upside",
    "Acme Corp misses earnings estimates, cuts full-year guidance",
    "Treasury yields climb to two-month high ahead of jobs data",
)


def news_items(n: int, *, tag: str) -> list[RawNews]:
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    return [
        RawNews(  # type: ignore[call-arg]
            source="test-wire",
            url=f"https://example.com/{tag}/{i}",
            title=f"{HEADLINES[i % len(HEADLINES)]} ({tag} {i})",
            body="Markets reacted quickly to the news.",
            published_at=start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def produce(bootstrap: str, topic: str, payloads: list[tuple[bytes | None, bytes]]) -> None:
    producer = make_producer(bootstrap)
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def enrichment_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Enrichment)).scalar_one())


def distinct_enriched_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Enrichment.news_id)).scalars())


def worker_for(
    bootstrap: str,
    topics: KafkaTopics,
    engine: Engine,
    predictor: PredictorLike,
    *,
    max_poll_records: int = 64,
    producer_overrides: dict[str, object] | None = None,
    **config: object,
) -> tuple[ModelWorker, KafkaConsumer]:
    """A model worker wired as `finsent worker model` wires it, on this test's topics and group."""
    consumer = make_consumer(
        bootstrap,
        group_id=topics.group("model"),
        topics=[topics.raw],
        max_poll_records=max_poll_records,
        **CONSUMER_OVERRIDES,
    )
    worker = ModelWorker(
        consumer=consumer,
        producer=make_producer(bootstrap, **{**PRODUCER_OVERRIDES, **(producer_overrides or {})}),
        predictor=predictor,
        store=partial(store_batch, engine),
        config=ModelWorkerConfig(
            topic_in=topics.raw,
            topic_enriched=topics.enriched,
            topic_dlq=topics.dlq,
            **config,  # type: ignore[arg-type]
        ),
        ensure_topics=partial(
            ensure_topics, bootstrap, [topics.raw, topics.enriched, topics.dlq], partitions=TEST_PARTITIONS
        ),
    )
    return worker, consumer


@pytest.mark.integration
def test_items_in_equal_rows_out_and_counts_reconcile(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    items = news_items(80, tag="e2e")  # with the duplicates and bad payloads: more than one poll of 64
    bad = malformed_raw_payloads()
    payloads = [(n.id.encode(), encode(n)) for n in items]
    payloads += [(n.id.encode(), encode(n)) for n in items[:10]]  # re-sent: duplicates
    payloads += [(None, value) for value, _ in bad.values()]
    produce(kafka_bootstrap, kafka_topics.raw, payloads)

    worker, consumer = worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor)
    totals = worker.run(threading.Event(), until=lambda t: t.consumed >= len(payloads))
    consumer.close(autocommit=False)

    assert totals.consumed == len(payloads)
    assert totals.stored == len(items) == enrichment_count(pg_engine)
    assert totals.deduplicated == 10 and totals.dlq == len(bad)
    assert totals.consumed == totals.stored + totals.deduplicated + totals.dlq
    assert distinct_enriched_ids(pg_engine) == {n.id for n in items}

    checker = make_consumer(kafka_bootstrap, group_id=kafka_topics.group("check"), topics=[kafka_topics.dlq])
    letters = [decode(r.value, DeadLetter) for r in consume(checker, len(bad))]
    checker.close()
    reasons = " | ".join(letter.reason for letter in letters if isinstance(letter, DeadLetter))
    for _, fragment in bad.values():
        assert fragment in reasons
    enriched_reader = make_consumer(
        kafka_bootstrap, group_id=kafka_topics.group("check2"), topics=[kafka_topics.enriched]
    )
    enriched = [decode(r.value, EnrichedNews) for r in consume(enriched_reader, len(items))]
    enriched_reader.close()
    assert all(isinstance(e, EnrichedNews) and e.model_version == predictor.model_version for e in enriched)


OUTAGE_S = float(os.environ.get("FINSENT_TEST_OUTAGE_S", "10"))
"""How long the database stays unreachable in the outage test: 10 s in the suite (several capped
retries, every partition paused throughout); RELIABILITY.md's figures are from runs with 60."""
KILL_ITEMS = int(os.environ.get("FINSENT_TEST_KILL_ITEMS", "300"))
"""Items on `news.raw` in the kill -9 test, which kills the worker once a tenth are stored: 300 in the
suite (the kill lands after the first batch of 128, the restart has the rest); RELIABILITY.md's
figures are from runs with 2000."""


@pytest.mark.integration
@pytest.mark.slow
def test_database_outage_pauses_partitions_commits_nothing_then_catches_up(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_url: str, pg_engine: Engine, predictor: Predictor
) -> None:
    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = make_engine(
        url.set(host="127.0.0.1", port=proxy.port), pool_timeout=2, connect_args={"connect_timeout": 2}
    )
    items = news_items(80, tag="outage")
    group = kafka_topics.group("model")
    worker, consumer = worker_for(
        kafka_bootstrap, kafka_topics, proxied, predictor, retry_initial_s=0.2, retry_max_s=2.0
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=worker.run, args=(stop,), kwargs={"until": lambda t: t.stored >= len(items)}
    )
    paused_seen: list[set[int]] = []
    try:
        proxy.pause()
        produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
        ends = topic_end_offsets(kafka_bootstrap, kafka_topics.raw)
        runner.start()
        wait_until(lambda: worker.metrics.store_retries._value.get() >= 1, "a failed store during the outage")
        outage_ends = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_ends:  # sampled for the whole outage: nothing may move
            assert runner.is_alive() and not worker.storing_ok
            paused_seen.append({tp.partition for tp in consumer.paused()})
            assert committed_offsets(kafka_bootstrap, group, kafka_topics.raw) == {}
            assert enrichment_count(pg_engine) == 0
            time.sleep(1.0)  # the sampling interval of the outage, not a wait for an event
        retries_in_outage = worker.metrics.store_retries._value.get()
        proxy.resume()
        resumed = time.monotonic()
        runner.join(timeout=3 * WAIT_S)
        assert not runner.is_alive()
        print(
            f"figures: outage {OUTAGE_S:.0f} s, {retries_in_outage:.0f} store retries, "
            f"{len(items)} items stored {time.monotonic() - resumed:.1f} s after the database came back"
        )
    finally:
        stop.set()
        runner.join(timeout=10) if runner.is_alive() else None
        consumer.close(autocommit=False)
        proxy.stop()
        proxied.dispose()
    assigned = set(range(TEST_PARTITIONS))
    assert paused_seen and all(seen == assigned for seen in paused_seen[1:]), paused_seen
    assert worker.metrics.store_retries._value.get() >= 3  # capped backoff: retried all along
    assert worker.storing_ok
    assert distinct_enriched_ids(pg_engine) == {n.id for n in items}
    wait_until(
        lambda: committed_offsets(kafka_bootstrap, group, kafka_topics.raw) == ends,
        "the stored batches' offsets committed",
    )
    assert worker.totals.consumed == worker.totals.stored + worker.totals.deduplicated + worker.totals.dlq


def _spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "worker", "model"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def worker_env(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_url: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env.update(
        FINSENT_DATABASE_URL=pg_url,
        FINSENT_KAFKA_BOOTSTRAP=kafka_bootstrap,
        FINSENT_KAFKA_PARTITIONS="2",
        FINSENT_TOPIC_RAW=kafka_topics.raw,
        FINSENT_TOPIC_ENRICHED=kafka_topics.enriched,
        FINSENT_TOPIC_DLQ=kafka_topics.dlq,
        FINSENT_MODEL_GROUP=kafka_topics.group("model"),
        FINSENT_MODEL_DEVICE="cpu",
        FINSENT_DATA_DIR=str(tmp_path),
        FINSENT_LOG_JSON="true",
    )
    yield env


@pytest.mark.integration
@pytest.mark.slow
def test_kill_9_mid_stream_then_restart_stores_every_item_exactly_once(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    pg_engine: Engine,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    items = news_items(KILL_ITEMS, tag="crash")
    produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
    log = tmp_path / "worker.log"

    first = _spawn_worker(worker_env, log)
    try:
        wait_until(
            lambda: enrichment_count(pg_engine) >= len(items) // 10 or first.poll() is not None,
            "first batches stored",
            3 * WAIT_S,
        )
        assert first.poll() is None, log.read_text()[-3000:]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    stored_at_kill = enrichment_count(pg_engine)
    assert 0 < stored_at_kill < len(items), "the kill must land mid-stream"

    bad = malformed_raw_payloads()
    unscorable = RawNews(source="test-wire", title="!!! ??? ...", published_at=datetime(2026, 6, 2, tzinfo=UTC))  # type: ignore[call-arg]
    produce(
        kafka_bootstrap,
        kafka_topics.raw,
        [(None, value) for value, _ in bad.values()] + [(unscorable.id.encode(), encode(unscorable))],
    )
    metrics_port = free_port()
    second = _spawn_worker({**worker_env, "FINSENT_METRICS_PORT": str(metrics_port)}, log)
    try:
        wait_until(
            lambda: enrichment_count(pg_engine) >= len(items) or second.poll() is not None,
            "every item stored",
            5 * WAIT_S,
        )
        ends = topic_end_offsets(worker_env["FINSENT_KAFKA_BOOTSTRAP"], kafka_topics.raw)
        wait_until(
            lambda: committed_offsets(kafka_bootstrap, kafka_topics.group("model"), kafka_topics.raw) == ends
            or second.poll() is not None,
            "the last batch's offsets committed",
        )
        assert second.poll() is None, log.read_text()[-3000:]
        health, metrics = _ops_endpoints(metrics_port)
        second.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = second.wait(timeout=15)
        assert time.monotonic() - started < 10, "graceful stop takes under 10 s"
        assert code == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    assert enrichment_count(pg_engine) == len(items)
    assert distinct_enriched_ids(pg_engine) == {n.id for n in items}
    lines = [json.loads(line) for line in log.read_text().strip().splitlines()]  # FINSENT_LOG_JSON: all JSON
    summary = lines[-1]
    assert summary["consumed"] == summary["stored"] + summary["deduplicated"] + summary["dlq"]
    assert summary["dlq"] == len(bad) + 1
    print(f"figures: kill -9 at {stored_at_kill}/{len(items)} stored; restart summary {summary}")
    letters = [line for line in lines if line.get("msg") == "dead letter"]
    assert len(letters) == len(bad) + 1
    assert all("news_id" in line and line["offset"] is not None for line in letters)
    assert [line["news_id"] for line in letters if line["stage"] == "model"] == [unscorable.id]
    batch_lines = [line for line in lines if line.get("msg") == "batch stored"]
    assert batch_lines and all(line["level"] == "INFO" and "ts" in line for line in batch_lines)
    # FINSENT_METRICS_PORT: /healthz and /metrics of the second process, read before it stopped
    assert health["ok"] is True and health["model_version"] and health["storing_ok"] and health["emitting_ok"]
    consumed = health["totals"]["consumed"]
    assert consumed == summary["consumed"] and health["totals"]["dlq"] == summary["dlq"]
    assert f"finsent_model_consumed_total {float(consumed)}" in metrics
    assert 'finsent_model_dlq_total{stage="model"} 1.0' in metrics
    # the first live model worker activated its version for live alerts; the restart did not add a row
    active = active_version(pg_engine)
    assert (active.model_version, active.source) == (health["model_version"], "activated")
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM model_activations")).scalar() == 1
    assert f'finsent_model_dlq_total{{stage="decode"}} {float(len(bad))}' in metrics


def _ops_endpoints(port: int) -> tuple[dict[str, object], str]:
    """GET /healthz (JSON, 200) and /metrics (Prometheus text) of a worker's ops port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert response.status == 200
        health = json.loads(response.read())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        metrics = response.read().decode()
    return health, metrics


@pytest.mark.integration
def test_two_workers_in_one_group_share_the_partitions(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine, predictor: Predictor
) -> None:
    items = news_items(100, tag="scale")  # ~50 a partition: both workers get some
    workers = [worker_for(kafka_bootstrap, kafka_topics, pg_engine, predictor) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w, _ in workers]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: all(len(c.assignment()) == 1 for _, c in workers), "each worker to own one partition"
        )
        assert workers[0][1].assignment().isdisjoint(workers[1][1].assignment())
        produce(kafka_bootstrap, kafka_topics.raw, [(n.id.encode(), encode(n)) for n in items])
        wait_until(lambda: enrichment_count(pg_engine) >= len(items), "every item stored", 3 * WAIT_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for _, consumer in workers:
            consumer.close(autocommit=False)
    totals = [w.totals for w, _ in workers]
    assert all(t.consumed > 0 for t in totals), [t.as_dict() for t in totals]
    assert sum(t.stored for t in totals) == len(items) == enrichment_count(pg_engine)
    assert distinct_enriched_ids(pg_engine) == {n.id for n in items}
