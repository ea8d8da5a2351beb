"""`finsent alerts evaluate|check-rules|deliveries` and `finsent worker alerts`."""

from __future__ import annotations

import argparse
import json
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "alerts", help="alert rules: evaluate, check, deliveries"
    )
    commands = parser.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")

    ev = commands.add_parser("evaluate", help="one evaluation tick at an event time; prints the decisions")
    ev.add_argument("--at", type=_iso, default=None, help="event time (ISO 8601 with zone; default now)")
    ev.add_argument(
        "--rules", type=Path, default=None, help="rules YAML (default: FINSENT_RULES_PATH or shipped)"
    )
    ev.add_argument("--model-version", default=None, help="default: the active one (FINSENT_ALERTS_MODEL_VERSION, "
                    "else `finsent model activate`)")
    ev.add_argument("--commit", action="store_true", help="store states, events and webhooks like the worker")
    ev.add_argument("--all", action="store_true", help="print inactive decisions too")
    ev.set_defaults(handler=_evaluate)

    check = commands.add_parser("check-rules", help="validate a rules file (errors name file:line: field)")
    check.add_argument("path", type=Path, nargs="?", default=None)
    check.set_defaults(handler=_check_rules)

    dl = commands.add_parser("deliveries", help="outbox counts, and the failed webhooks with why")
    dl.set_defaults(handler=_deliveries)


def register_alerts_kind(kinds: Any) -> None:
    """Add `alerts` to `finsent worker KIND` (called from workers/commands/worker.py)."""
    parser: argparse.ArgumentParser = kinds.add_parser(
        "alerts", help="evaluate alert rules periodically and deliver signed webhooks"
    )
    parser.add_argument(
        "--rules", type=Path, default=None, help="rules YAML (default: FINSENT_RULES_PATH or shipped)"
    )
    parser.set_defaults(handler=run_alerts_worker)


def _iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone (add Z or +00:00)")
    return parsed


def _rules_path(args: argparse.Namespace, settings: Settings) -> Path:
    from alerts.rules import DEFAULT_RULES_PATH

    return args.rules or settings.rules_path or DEFAULT_RULES_PATH


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.engine import AlertEngine
    from alerts.lifecycle import fingerprint
    from alerts.receivers import load_receivers
    from alerts.rules import load_rules
    from alerts.state_store import InMemoryStateStore, SqlStateStore
    from pipeline.db import open_database
    from schemas import utc_now

    db = open_database(settings)
    receivers = load_receivers(settings)
    stored = SqlStateStore(db, receivers, public_url=settings.public_url)
    store = stored if args.commit else InMemoryStateStore(states=stored.load())
    engine = AlertEngine(
        db,
        load_rules(_rules_path(args, settings)),
        store,
        receivers=sorted(receivers),
        model_version=args.model_version or settings.alerts_model_version,
    )
    result = engine.tick(args.at or utc_now())
    for d in result.decisions:
        if d.active or args.all:
            print(
                json.dumps(
                    {
                        "rule": d.rule.name,
                        "labels": dict(d.labels),
                        "active": d.active,
                        "reason": d.reason,
                        "fingerprint": fingerprint(d.rule.name, d.labels, result.model_version or ""),
                        "figures": dict(d.figures),
                    },
                    default=str,
                )
            )
    for e in result.events:
        print(
            json.dumps(
                {
                    "event": e.event.status,
                    "reason": e.reason.value,
                    "fingerprint": e.event.fingerprint,
                    "rule": e.event.rule,
                    "topic": e.event.topic,
                }
            )
        )
    summary = {
        "now": result.now.isoformat(),
        "model_version": result.model_version,
        "decisions": len(result.decisions),
        "active": sum(d.active for d in result.decisions),
        "events": len(result.events),
        "committed": bool(args.commit),
    }
    print(json.dumps(summary))
    db.dispose()
    return 0


def _check_rules(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.rules import RulesError, load_rules

    path = _rules_path(argparse.Namespace(rules=args.path), settings)
    try:
        config = load_rules(path)
    except RulesError as exc:
        print(exc)
        return 1
    print(f"{path}: {len(config.rules)} rules OK")
    return 0


def _deliveries(_args: argparse.Namespace, settings: Settings) -> int:
    """Counts by status on the first line, then one line per failed delivery (newest first)."""
    from alerts.dispatcher import delivery_counts, failed_deliveries
    from pipeline.db import open_database

    db = open_database(settings)
    print(json.dumps(delivery_counts(db)))
    for row in failed_deliveries(db):
        print(json.dumps(row, default=str))
    db.dispose()
    return 0


def run_alerts_worker(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.dispatcher import Dispatcher, RetryPolicy
    from alerts.engine import AlertEngine
    from alerts.metrics import AlertsMetrics
    from alerts.receivers import load_receivers
    from alerts.rules import RulesFile
    from alerts.state_store import SqlStateStore
    from pipeline.db import open_database
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_producer
    from pipeline.kafka.security import KafkaSecurity
    from pipeline.observability import OpsServer
    from workers.alerts_worker import AlertsWorker, kafka_publisher
    from workers.lifecycle import stop_on_signals

    stop = threading.Event()
    rules = RulesFile(_rules_path(args, settings))
    receivers = load_receivers(settings)
    if not receivers:
        log.warning("no webhook receivers configured: alerts are stored and published, not sent")
    db = open_database(settings)
    security = KafkaSecurity.from_settings(settings)
    with stop_on_signals(stop), broker_for(settings) as bootstrap:
        ensure_topics(
            bootstrap,
            [settings.topic_alerts],
            partitions=settings.kafka_partitions,
            security=security,
            timeout_s=settings.kafka_connect_timeout_s,
        )
        producer = make_producer(bootstrap, client_id=f"{settings.kafka_client_id}-alerts", security=security)
        engine = AlertEngine(
            db,
            rules.current,
            SqlStateStore(db, receivers, public_url=settings.public_url),
            receivers=sorted(receivers),
            model_version=settings.alerts_model_version,
            publish=kafka_publisher(producer, settings.topic_alerts),
        )
        policy = RetryPolicy(max_age_s=settings.webhook_max_age_s, lease_s=settings.webhook_lease_s)
        dispatcher = Dispatcher(db, receivers, policy=policy)
        metrics = AlertsMetrics.create()
        worker = AlertsWorker(
            engine,
            dispatcher,
            interval_s=settings.alerts_interval_s,
            dispatch_interval_s=settings.alerts_dispatch_interval_s,
            lateness_s=settings.alerts_allowed_lateness_s,
            max_catch_up_s=settings.alerts_max_catch_up_s,
            metrics=metrics,
        )
        ops = None
        if settings.metrics_port is not None:
            ops = OpsServer(
                metrics.registry, worker.health, host=settings.metrics_host, port=settings.metrics_port
            ).start()
            log.info("serving /healthz and /metrics on port %d", ops.port)
        try:
            totals = worker.run(stop)
        finally:
            producer.close(timeout=5)
            if ops is not None:
                ops.stop()
            db.dispose()
    print(json.dumps(totals), flush=True)
    return 0
