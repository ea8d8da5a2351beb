"""`finsent worker stream`: one member of the stream consumer group (watchlist notices).

Exit codes: 0 stopped cleanly, 1 stopped without faust finishing in time, 70 killed by the
shutdown guard (still not gone `FINSENT_STREAM_SHUTDOWN_S` + 10 s after SIGTERM/SIGINT).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from typing import Any

from pipeline.config import Settings

log = logging.getLogger(__name__)

GUARD_EXIT = 70
GUARD_MARGIN_S = 10.0


def register_stream_kind(kinds: Any) -> None:
    """Add `stream` to `finsent worker KIND` (called from workers/commands/worker.py)."""
    parser: argparse.ArgumentParser = kinds.add_parser(
        "stream", help="faust agents: news.enriched and alerts.events -> watchlist notices (webhooks)"
    )
    parser.add_argument("--group", help="consumer group (default: FINSENT_STREAM_GROUP)")
    parser.set_defaults(handler=run_stream_worker)


def arm_shutdown_guard(stop: threading.Event, seconds: float) -> threading.Thread:
    """End the process `seconds` after `stop` is set if it is still running by then."""

    def guard() -> None:
        stop.wait()
        time.sleep(seconds)
        log.critical("still running %gs after the stop signal: exiting now (unacked records are redone)", seconds)
        logging.shutdown()
        os._exit(GUARD_EXIT)

    thread = threading.Thread(target=guard, name="shutdown-guard", daemon=True)
    thread.start()
    return thread


def run_stream_worker(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.receivers import load_receivers
    from pipeline.db import open_database
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics
    from pipeline.kafka.security import KafkaSecurity
    from pipeline.observability import start_ops_server
    from workers.lifecycle import stop_on_signals
    from workers.stream.worker import StreamWorker

    if args.group:
        settings = settings.model_copy(update={"stream_group": args.group})
    receivers = load_receivers(settings)
    if not receivers:
        log.warning("no webhook receivers configured: notices are recorded as suppressed (no_receiver)")
    engine = open_database(settings)
    stop = threading.Event()
    arm_shutdown_guard(stop, settings.stream_shutdown_s + GUARD_MARGIN_S)
    started = time.monotonic()
    with stop_on_signals(stop), broker_for(settings) as bootstrap:
        ensure_topics(
            bootstrap,
            [settings.topic_enriched, settings.topic_alerts, settings.topic_dlq],
            partitions=settings.kafka_partitions,
            security=KafkaSecurity.from_settings(settings),
            timeout_s=settings.kafka_connect_timeout_s,
        )
        worker = StreamWorker(settings, bootstrap, engine, receivers)
        ops = start_ops_server(settings, worker.metrics.registry, worker.health)
        if ops is not None:
            log.info("serving /healthz and /metrics on port %d", ops.port)
        try:
            totals = worker.run(stop)
        finally:
            if ops is not None:
                ops.stop()
            engine.dispose()
    summary = {**totals, "clean_stop": worker.clean_stop, "seconds": round(time.monotonic() - started, 2)}
    print(json.dumps(summary), flush=True)
    return 0 if worker.clean_stop else 1
