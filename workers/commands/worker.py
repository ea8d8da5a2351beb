"""`finsent worker model|alerts|stream`: the long-running workers (model: one member of the consumer group)."""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from functools import partial
from typing import Any

from pipeline.config import Settings
from workers.commands.alerts import register_alerts_kind
from workers.commands.stream import register_stream_kind

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser("worker", help="run a long-lived worker")
    kinds = worker.add_subparsers(dest="kind", required=True, metavar="KIND")
    model = kinds.add_parser("model", help="consume news.raw, enrich with the model, store, emit")
    model.add_argument("--topic", help="input topic (default: FINSENT_TOPIC_RAW)")
    model.add_argument("--group", help="consumer group (default: FINSENT_MODEL_GROUP)")
    model.add_argument("--stop-after", type=int, default=None, help="exit after consuming N records")
    model.set_defaults(handler=run_model_worker)
    register_alerts_kind(kinds)
    register_stream_kind(kinds)


def run_model_worker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.db import open_database, store_batch
    from pipeline.db.activation import activate_first
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer
    from pipeline.kafka.security import KafkaSecurity
    from pipeline.observability import OpsServer
    from schemas import utc_now
    from workers.lifecycle import stop_on_signals
    from workers.model_worker import (
        CONSUMER_OVERRIDES,
        PRODUCER_OVERRIDES,
        ModelWorker,
        ModelWorkerConfig,
        predictor_from_settings,
    )

    stop = threading.Event()
    topic_in = args.topic or settings.topic_raw
    predictor = predictor_from_settings(settings)
    engine = open_database(settings)
    if topic_in == settings.topic_raw and not settings.alerts_model_version:
        activate_first(engine, predictor.model_version, now=utc_now(), by="finsent worker model")
    security = KafkaSecurity.from_settings(settings)
    with stop_on_signals(stop), broker_for(settings) as bootstrap:
        topics = partial(
            ensure_topics,
            bootstrap,
            [topic_in, settings.topic_enriched, settings.topic_dlq],
            partitions=settings.kafka_partitions,
            security=security,
            timeout_s=settings.kafka_connect_timeout_s,
        )
        topics()
        consumer = make_consumer(
            bootstrap,
            group_id=args.group or settings.model_group,
            topics=[topic_in],
            max_poll_records=settings.batch_max_items,
            security=security,
            **CONSUMER_OVERRIDES,
        )
        producer = make_producer(bootstrap, security=security, **PRODUCER_OVERRIDES)
        worker = ModelWorker(
            consumer=consumer,
            producer=producer,
            predictor=predictor,
            store=partial(store_batch, engine),
            config=ModelWorkerConfig.from_settings(settings, topic_in=topic_in),
            ensure_topics=topics,
        )

        def health() -> dict[str, Any]:
            return {
                "ok": worker.storing_ok and worker.emitting_ok,
                "storing_ok": worker.storing_ok,
                "emitting_ok": worker.emitting_ok,
                "model_version": predictor.model_version,
                "last_batch_at": worker.last_batch_at,
                "totals": worker.totals.as_dict(),
                "lag": worker.lag,
            }

        ops = None
        if settings.metrics_port is not None:
            ops = OpsServer(worker.metrics.registry, health, host=settings.metrics_host, port=settings.metrics_port).start()
            log.info("serving /healthz and /metrics on port %d", ops.port)
        started = time.monotonic()
        try:
            until = (lambda t: t.consumed >= args.stop_after) if args.stop_after else None
            totals = worker.run(stop, until=until)
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=5)
            if ops is not None:
                ops.stop()
    summary = {**totals.as_dict(), "seconds": round(time.monotonic() - started, 2)}
    print(json.dumps(summary), flush=True)
    return 0
