"""`finsent demo`: the whole path on the embedded default, ending with one JSON summary line.

Starts the embedded broker, migrates a fresh demo database, ingests the bundled sample news into
`news.raw`, runs the model worker until every produced item is consumed, stores the results,
evaluates the demo alert rules at event time, delivers the webhooks to a local receiver that
verifies signatures, runs a stream worker for one demo watchlist (`workers.stream.demo`), and
prints `{"ingested", "deduplicated", "dlq", "enriched", "alerts_fired", "webhooks_delivered",
"watchlist_notices", "entity_sentiment_example"}`; the last is what the model said about the sample's
showcase headline ("Nvidia rallies as AMD slumps ..."), each entity's sentiment and its source, as stored.
With `--serve` the line also has `dashboard_url` and `api_token`, and the dashboard and API then
serve the demo database until Ctrl-C (`workers.http.demo_server`).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

SAMPLES = Path(__file__).resolve().parents[2] / "pipeline" / "ingest" / "samples" / "news.jsonl"
SHOWCASE = "Nvidia rallies as AMD slumps"
"""The sample's showcase headline: two companies moving opposite ways in one sentence."""
COUNTS = ("ingested", "enriched", "deduplicated", "dlq")
"""The summary's fields that must reconcile: ingested = enriched + deduplicated + dlq."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline on bundled sample news")
    parser.add_argument("--file", type=Path, default=SAMPLES, help="JSONL news to ingest (bundled samples)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="then serve the dashboard and API on the demo database until Ctrl-C (prints dashboard_url, api_token)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="with --serve: address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="with --serve: port (8080; a free one if taken)"
    )
    parser.set_defaults(handler=run_demo)


def demo_database_url(settings: Settings) -> str:
    """The configured database, else a fresh SQLite file under the data dir (removed first)."""
    if settings.database_url is not None:
        return settings.sqlalchemy_url
    path = (settings.data_dir / "demo.db").resolve()
    for leftover in (path, path.with_name("demo.db-wal"), path.with_name("demo.db-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def entity_sentiment_example(engine: Engine, model_version: str) -> dict[str, object] | None:
    """What the model said about the sample's showcase headline (`SHOWCASE`: two companies moving
    opposite ways), as stored, whether right or wrong: `{"headline", "sentiment", "entities": [{"text",
    "ticker", "sentiment", "sentiment_source"}]}`; None if that headline was not stored."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session, selectinload

    from pipeline.db.models import Article, Enrichment

    query = (
        select(Enrichment)
        .join(Enrichment.article)
        .where(Enrichment.model_version == model_version, Article.title.startswith(SHOWCASE))
        .options(selectinload(Enrichment.entities), selectinload(Enrichment.article))
        .order_by(Enrichment.published_at, Enrichment.news_id)
    )
    with Session(engine) as session:
        row = session.scalars(query).first()
        if row is None:
            return None
        entities = sorted(row.entities, key=lambda e: e.start_char)
        return {
            "headline": row.article.title,
            "sentiment": row.sentiment,
            "entities": [
                {"text": e.text, "ticker": e.ticker, "sentiment": e.sentiment, "sentiment_source": e.sentiment_source}
                for e in entities
            ],
        }


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry

    from alerts.demo import run_demo_alerts
    from pipeline.db import make_engine, require_head, store_batch, upgrade
    from pipeline.ingest.sources.archive import ColumnMap
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer
    from pipeline.kafka.security import KafkaSecurity
    from workers.alerts_worker import kafka_publisher
    from workers.http.demo_server import DemoServer
    from workers.ingest import FileSource, IngestPlan, run_ingest
    from workers.model_worker import ModelWorker, ModelWorkerConfig, predictor_from_settings
    from workers.stream.demo import run_demo_stream

    started = time.monotonic()
    url = demo_database_url(settings)
    if settings.database_url is None:
        upgrade(url)  # the demo's own fresh SQLite file
    else:
        require_head(url)  # a configured database is migrated by `finsent db upgrade` only
    engine = make_engine(url)
    stop = threading.Event()
    deadline = threading.Timer(args.timeout, stop.set)
    deadline.daemon = True
    deadline.start()
    security = KafkaSecurity.from_settings(settings)
    with broker_for(settings) as bootstrap:
        names = [settings.topic_raw, settings.topic_enriched, settings.topic_dlq, settings.topic_alerts]
        ensure_topics(
            bootstrap,
            names,
            partitions=settings.kafka_partitions,
            timeout_s=settings.kafka_connect_timeout_s,
            security=security,
        )
        producer = make_producer(bootstrap, client_id=f"{settings.kafka_client_id}-demo", security=security)
        plan = IngestPlan(files=(FileSource(args.file, ColumnMap(), "demo", UTC),))
        ingested = run_ingest(
            plan,
            producer,
            stop=stop,
            topic_raw=settings.topic_raw,
            topic_dlq=settings.topic_dlq,
            registry=CollectorRegistry(),
        )
        log.info("ingested sample news", extra=ingested.as_dict())

        predictor = predictor_from_settings(settings)
        consumer = make_consumer(
            bootstrap, group_id=settings.model_group, topics=[settings.topic_raw], security=security
        )
        worker = ModelWorker(
            consumer=consumer,
            producer=producer,
            predictor=predictor,
            store=partial(store_batch, engine),
            config=ModelWorkerConfig.from_settings(settings),
        )
        totals = worker.run(stop, until=lambda t: t.consumed >= ingested.produced)
        consumer.close(autocommit=False)
        fired = run_demo_alerts(
            engine,
            settings,
            publish=kafka_publisher(producer, settings.topic_alerts),
            model_version=predictor.model_version,
        )
        watched = run_demo_stream(settings, bootstrap, engine, stop)
        producer.close()
    deadline.cancel()
    summary = {
        "ingested": ingested.ingested,
        "deduplicated": ingested.deduplicated + totals.deduplicated,
        "dlq": ingested.dlq + totals.dlq,
        "enriched": totals.stored,
        "alerts_fired": fired.alerts_fired,
        "alerts_resolved": fired.alerts_resolved,
        "webhooks_delivered": fired.webhooks_delivered,
        "watchlist_notices": watched.notices,
        "entity_sentiment_example": entity_sentiment_example(engine, predictor.model_version),
        "model_version": predictor.model_version,
        "database": url.split("://", 1)[0],
        "seconds": round(time.monotonic() - started, 1),
    }
    server = DemoServer.prepare(settings, url, host=args.host, port=args.port) if args.serve else None
    if server is not None:
        summary.update(server.summary())
    print(json.dumps(summary), flush=True)
    succeeded = check_outcome(summary, consumed=totals.consumed, produced=ingested.produced)
    if server is not None:
        server.serve()
    return 0 if succeeded else 1


def check_outcome(summary: dict[str, Any], *, consumed: int, produced: int) -> bool:
    """Whether every produced item was consumed and the counts reconcile; logs what failed, with
    the counts only (the summary may hold the `--serve` tokens, which no log line may carry)."""
    if consumed < produced:
        log.error("demo timed out: consumed %d of %d produced items", consumed, produced)
        return False
    counts = {name: summary[name] for name in COUNTS}
    if counts["ingested"] != counts["enriched"] + counts["deduplicated"] + counts["dlq"]:
        log.error("counts do not reconcile (ingested = enriched + deduplicated + dlq): %s", counts)
        return False
    return True
