"""End-to-end throughput: ingest -> Kafka -> model worker -> Postgres, beside model-only docs/s.

    .venv/bin/python bench/pipeline_throughput.py [--items 2000] [--batch 64]

One run, same texts, same predictor: (1) model-only `predict` in batches, (2) the live path with
the embedded broker and a scratch Postgres database, ingest running concurrently with the worker.
Latency percentiles are stored_at - ingested_at per item, from the database.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bench.common import EVENTS, SUBJECTS, percentile, scratch_postgres  # noqa: E402
from pipeline.db import Article, Enrichment, make_engine, store_batch, upgrade  # noqa: E402
from pipeline.ingest.dedup import Deduplicator  # noqa: E402
from pipeline.ingest.publisher import IngestPublisher  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker  # noqa: E402
from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer  # noqa: E402
from pipeline.model import load_predictor  # noqa: E402
from schemas import RawNews  # noqa: E402
from workers.model_worker import ModelWorker, ModelWorkerConfig  # noqa: E402

INGEST_CHUNK = 32
"""Items per ingest batch (`IngestPublisher.publish_many`), like a small HTTP push."""



def synthetic_news(n: int) -> list[RawNews]:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    return [
        RawNews(  # type: ignore[call-arg]
            source="bench",
            url=f"https://example.com/bench/{i}",
            title=f"{SUBJECTS[i % len(SUBJECTS)]} {EVENTS[(i // 3) % len(EVENTS)]} ({i})",
            body=f"{SUBJECTS[(i + 2) % len(SUBJECTS)]} said on Monday that results would follow. " * 3,
            published_at=start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def model_only(predictor: object, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        predictor.predict(texts[i : i + batch])  # type: ignore[attr-defined]
    return len(texts) / (time.perf_counter() - started)


def pipeline(predictor: object, items: list[RawNews], batch: int) -> dict[str, float]:
    with EmbeddedBroker() as broker, scratch_postgres() as url:
        upgrade(url)
        engine = make_engine(url)
        topics = ("bench.raw", "bench.enriched", "bench.dlq")
        ensure_topics(broker.bootstrap, topics, partitions=4)
        producer = make_producer(broker.bootstrap)
        publisher = IngestPublisher(producer, Deduplicator(), topic_raw=topics[0], topic_dlq=topics[2])
        consumer = make_consumer(broker.bootstrap, group_id="bench-model", topics=[topics[0]], max_poll_records=batch)
        worker = ModelWorker(
            consumer=consumer,
            producer=make_producer(broker.bootstrap),
            predictor=predictor,  # type: ignore[arg-type]
            store=partial(store_batch, engine),
            config=ModelWorkerConfig(topics[0], topics[1], topics[2], batch_max_items=batch, batch_max_ms=100),
        )
        while not consumer.assignment():  # join the group (a one-off ~3 s on Tansu) before the clock starts
            consumer.poll(timeout_ms=200)
        started = time.perf_counter()

        def ingest() -> None:
            for start in range(0, len(items), INGEST_CHUNK):  # each chunk acknowledged before the next
                publisher.publish_many(items[start : start + INGEST_CHUNK], source="bench")

        feeder = threading.Thread(target=ingest)
        feeder.start()
        totals = worker.run(threading.Event(), until=lambda t: t.stored >= len(items))
        elapsed = time.perf_counter() - started
        feeder.join()
        consumer.close(autocommit=False)
        with engine.connect() as conn:
            rows = conn.execute(
                select(Enrichment.stored_at, Article.ingested_at).join(Article, Article.id == Enrichment.news_id)
            ).all()
        latencies = [(stored - ingested).total_seconds() for stored, ingested in rows]
        engine.dispose()
    return {
        "docs_per_s": totals.stored / elapsed,
        "p50_s": percentile(latencies, 0.5),
        "p99_s": percentile(latencies, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    predictor = load_predictor(device="cpu")
    items = synthetic_news(args.items)
    texts = [item.text for item in items]
    model_only(predictor, texts[: args.batch], args.batch)  # warm-up
    model_rate = model_only(predictor, texts, args.batch)
    live = pipeline(predictor, items, args.batch)
    ratio = live["docs_per_s"] / model_rate
    print(f"items={args.items} batch={args.batch} model_version={predictor.model_version}")
    print(f"{'path':<36}{'docs/s':>10}{'p50 s':>10}{'p99 s':>10}")
    print(f"{'model only (predict)':<36}{model_rate:>10.1f}{'-':>10}{'-':>10}")
    print(f"{'ingest->kafka->model->postgres':<36}{live['docs_per_s']:>10.1f}{live['p50_s']:>10.2f}{live['p99_s']:>10.2f}")
    print(f"pipeline / model-only = {ratio:.2f} (target >= 0.80)")
    print(json.dumps({"model_only_docs_per_s": round(model_rate, 1), **{k: round(v, 3) for k, v in live.items()}, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
