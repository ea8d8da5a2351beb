"""`finsent serve`: the HTTP API (POST /v1/news, /healthz, /metrics, /openapi.json, /docs), the
read API and the dashboard.

Prints one JSON line `{"serving": "http://HOST:PORT"}` on stdout once it listens, then serves until
SIGINT/SIGTERM. Requests authenticate with bearer tokens (`finsent token create`); with no tokens
configured it serves a loopback address only, and every request there has every scope.
Exit codes: 0 stopped, 2 bad settings (tokens, address), 69 broker/database unreachable.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

DEDUP_EVENT_GAP = timedelta(hours=48)
"""Title and near duplicates only within this gap of `published_at` (as `finsent ingest`'s default)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the HTTP API and the dashboard: POST /v1/news, /v1/..., /healthz, /metrics, /docs",
        description=(__doc__ or "").split("\n\n")[0].replace("\n", " "),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (8080; 0 = any free port)")
    parser.add_argument(
        "--timezone", default="UTC", metavar="ZONE", help="zone of naive times in pushed items (UTC)"
    )
    parser.set_defaults(handler=handle)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def handle(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.api_tokens import load_tokens
    from pipeline.ingest.sources_config import parse_timezone

    try:
        zone = parse_timezone(args.timezone)
    except ValueError as exc:
        print(f"finsent serve: --timezone: {exc}", file=sys.stderr)
        return 2
    tokens = load_tokens(settings.api_tokens, settings.api_tokens_path)
    if not tokens and not is_loopback(args.host):
        print(
            f"finsent serve: refusing to listen on {args.host} with no API tokens configured: anyone who "
            "reaches the port could push news. Create one with `finsent token create --scope ingest` "
            "and set FINSENT_API_TOKENS (or FINSENT_API_TOKENS_PATH), or listen on 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    if not tokens:
        log.warning("no API tokens configured: every request to %s has every scope", args.host)
    from workers.http.server import bind

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"finsent serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        return _serve(args, settings, tokens, zone, sock)
    finally:
        sock.close()


def _serve(args: argparse.Namespace, settings: Settings, tokens: Any, zone: Any, sock: Any) -> int:
    from prometheus_client import CollectorRegistry
    from sqlalchemy import text

    from pipeline.db import open_database
    from pipeline.ingest.dedup import Deduplicator
    from pipeline.ingest.publisher import IngestMetrics, IngestPublisher
    from pipeline.ingest.seen import SeenStore
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_producer
    from pipeline.kafka.security import KafkaSecurity
    from workers.http import AppContext
    from workers.http.analyst import create_analyst_app
    from workers.http.server import make_server
    from workers.lifecycle import stop_on_signals

    registry = CollectorRegistry()
    engine = open_database(settings, statement_timeout_ms=settings.db_statement_timeout_ms)

    def database_ok() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    stop = threading.Event()  # uvicorn handles the signals; this keeps them from killing us after it
    try:
        security = KafkaSecurity.from_settings(settings)
        with stop_on_signals(stop), broker_for(settings) as bootstrap:
            ensure_topics(
                bootstrap,
                [settings.topic_raw, settings.topic_dlq],
                partitions=settings.kafka_partitions,
                security=security,
                timeout_s=settings.kafka_connect_timeout_s,
            )
            producer = make_producer(
                bootstrap, client_id=f"{settings.kafka_client_id}-serve", security=security
            )
            try:
                publisher = IngestPublisher(
                    producer,
                    Deduplicator(ttl=DEDUP_EVENT_GAP),
                    seen=SeenStore(engine, retention=timedelta(hours=settings.dedup_retention_hours)),
                    topic_raw=settings.topic_raw,
                    topic_dlq=settings.topic_dlq,
                    metrics=IngestMetrics(registry),
                )
                context = AppContext(
                    settings=settings,
                    tokens=tokens,
                    registry=registry,
                    engine=engine,
                    publisher=publisher,
                    health_checks={"database": database_ok, "broker": publisher.broker_ok},
                    open_access=not tokens,
                    push_timezone=zone,
                )
                server = make_server(
                    create_analyst_app(context), host=args.host, port=args.port, read_timeout_s=settings.http_read_timeout_s,
                    forwarded_allow_ips=settings.forwarded_allow_ips,
                )
                host, port = sock.getsockname()[:2]
                url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
                print(json.dumps({"serving": url}), flush=True)
                log.info("serving %s (API docs at %s/docs, %d API tokens)", url, url, len(tokens))
                server.run(sockets=[sock])
            finally:
                producer.close(timeout=5)
    finally:
        engine.dispose()
    return 0
