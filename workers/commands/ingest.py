"""`finsent ingest`: feeds, archive files and stdin -> `news.raw` / `news.dlq` (HTTP push: `finsent serve`).

Ends with one JSON line on stdout:
`{"ingested": N, "produced": N, "deduplicated": N, "dlq": N, "rejected": 0}` (ingested = the sum).
Dedup is durable (the database's `ingest_seen`, shared with every other ingest process and
`finsent serve`). Exit codes: 0 done, 2 bad options or sources file, 69 broker/database unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.ingest.fetch import FetchPolicy
from pipeline.ingest.sources.archive import ColumnMap, ColumnMapError
from pipeline.ingest.sources.feeds import Feed
from pipeline.ingest.sources_config import SourcesConfigError, load_sources, parse_timezone
from workers.ingest import DEFAULT_BATCH_SIZE, FileSource, IngestPlan, run_ingest
from workers.lifecycle import stop_on_signals

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="read news from feeds, files or stdin into news.raw (HTTP push: finsent serve)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--feed", action="append", default=[], metavar="URL", help="RSS/Atom feed (repeatable)"
    )
    parser.add_argument("--interval", type=float, default=300.0, metavar="S", help="feed poll interval (300)")
    parser.add_argument("--once", action="store_true", help="poll feeds once and exit")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="CSV or JSONL archive, optionally .gz (repeatable)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COL",
        help="column of a RawNews field in --file (repeatable), e.g. title=headline",
    )
    parser.add_argument("--source", default="", metavar="NAME", help="source name for --file/--stdin items")
    parser.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="zone of naive times in --feed/--file/--stdin items (UTC)",
    )
    parser.add_argument("--stdin", action="store_true", help="read JSON Lines from stdin")
    parser.add_argument("--sources", type=Path, metavar="FILE", help="sources YAML (feeds, files)")
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"records per batch, each acknowledged before the next is read ({DEFAULT_BATCH_SIZE}; "
        "1 for a live --stdin stream)",
    )
    parser.add_argument(
        "--dedup-window",
        type=int,
        default=50_000,
        metavar="N",
        help="items in flight remembered in memory (50000; the durable record is the database's)",
    )
    parser.add_argument(
        "--dedup-ttl-hours",
        type=float,
        default=48.0,
        metavar="H",
        help="max published_at gap for title/near duplicates; 0 = no limit (48)",
    )
    parser.set_defaults(handler=handle)


def build_plan(args: argparse.Namespace) -> IngestPlan:
    """The run's sources from the options and the sources file (ValueError subclasses on errors)."""
    zone = parse_timezone(args.timezone)
    column_map = ColumnMap.parse(args.map)
    if args.map and not args.file:
        raise ColumnMapError("--map applies to --file; no --file given")
    feeds = [Feed(url=url, interval_s=args.interval, timezone=zone) for url in args.feed]
    files = [FileSource(path, column_map, args.source, zone) for path in args.file]
    if args.sources is not None:
        config = load_sources(args.sources)
        feeds += [Feed(url=f.url, name=f.name, interval_s=f.interval_s, timezone=f.tz) for f in config.feeds]
        files += [FileSource(f.path, f.column_map, f.source, f.tz) for f in config.files]
    for spec in files:
        if not spec.path.is_file():
            raise ColumnMapError(f"--file {spec.path}: no such file")
    if args.dedup_window < 1:
        raise ValueError("--dedup-window must be >= 1")
    if args.batch < 1:
        raise ValueError("--batch must be >= 1")
    return IngestPlan(
        feeds=tuple(feeds),
        files=tuple(files),
        stdin=args.stdin,
        stdin_source=args.source or "stdin",
        stdin_timezone=zone,
        once=args.once,
        dedup_window=args.dedup_window,
        dedup_ttl=timedelta(hours=args.dedup_ttl_hours) if args.dedup_ttl_hours > 0 else None,
        batch_size=args.batch,
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        plan = build_plan(args)
    except (ColumnMapError, SourcesConfigError, ValueError) as exc:
        print(f"finsent ingest: {exc}", file=sys.stderr)
        return 2
    if plan.is_empty:
        print(
            "finsent ingest: nothing to read: give --feed, --file, --stdin or --sources "
            "(HTTP push is `finsent serve`)",
            file=sys.stderr,
        )
        return 2
    plan = replace(plan, fetch=FetchPolicy.from_settings(settings.feeds_allow_private, settings.feeds_allow_hosts))

    from prometheus_client import CollectorRegistry

    from pipeline.db import open_database
    from pipeline.ingest.seen import SeenStore
    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_producer
    from pipeline.kafka.security import KafkaSecurity
    from pipeline.observability import start_ops_server

    stop = threading.Event()
    registry = CollectorRegistry()
    security = KafkaSecurity.from_settings(settings)
    engine = open_database(settings)
    seen = SeenStore(engine, retention=timedelta(hours=settings.dedup_retention_hours))
    try:
        with stop_on_signals(stop), broker_for(settings) as bootstrap:
            ensure_topics(
                bootstrap,
                [settings.topic_raw, settings.topic_dlq],
                partitions=settings.kafka_partitions,
                security=security,
                timeout_s=settings.kafka_connect_timeout_s,
            )
            # acks=all and lz4 compression are make_producer's defaults
            producer = make_producer(
                bootstrap, client_id=f"{settings.kafka_client_id}-ingest", security=security
            )
            ops = start_ops_server(settings, registry, lambda: {"ok": not stop.is_set()})
            try:
                counts = run_ingest(
                    plan,
                    producer,
                    stop=stop,
                    seen=seen,
                    topic_raw=settings.topic_raw,
                    topic_dlq=settings.topic_dlq,
                    registry=registry,
                )
            finally:
                producer.close()
                if ops is not None:
                    ops.stop()
    finally:
        engine.dispose()
    print(json.dumps(counts.as_dict()), flush=True)
    return 0
