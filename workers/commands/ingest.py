"""`finsent ingest`: feeds, archive files, stdin and an HTTP endpoint -> `news.raw` / `news.dlq`.

Ends with one JSON line on stdout: `{"ingested": N, "produced": N, "deduplicated": N, "dlq": N}`.
Exit codes: 0 done, 2 bad options or sources file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.ingest.sources.archive import ColumnMap, ColumnMapError
from pipeline.ingest.sources.feeds import Feed
from pipeline.ingest.sources_config import SourcesConfigError, load_sources, parse_timezone
from workers.ingest import FileSource, IngestPlan, ServeSource, run_ingest
from workers.lifecycle import stop_on_signals

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="read news from feeds, files, stdin or HTTP into news.raw",
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
        help="zone of naive times in --feed/--file/--stdin/--serve items (UTC)",
    )
    parser.add_argument("--stdin", action="store_true", help="read JSON Lines from stdin")
    parser.add_argument("--serve", action="store_true", help="accept POST /v1/news until stopped")
    parser.add_argument("--host", default="127.0.0.1", help="--serve address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="--serve port (8080; 0 = any free port)")
    parser.add_argument("--sources", type=Path, metavar="FILE", help="sources YAML (feeds, files, serve)")
    parser.add_argument(
        "--dedup-window",
        type=int,
        default=50_000,
        metavar="N",
        help="recent unique items remembered for de-duplication (50000)",
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
    serve = ServeSource(host=args.host, port=args.port, timezone=zone) if args.serve else None
    if args.sources is not None:
        config = load_sources(args.sources)
        feeds += [Feed(url=f.url, name=f.name, interval_s=f.interval_s, timezone=f.tz) for f in config.feeds]
        files += [FileSource(f.path, f.column_map, f.source, f.tz) for f in config.files]
        if config.serve is not None and serve is None:
            s = config.serve
            serve = ServeSource(host=s.host, port=s.port, max_body_bytes=s.max_body_bytes, timezone=s.tz)
    for spec in files:
        if not spec.path.is_file():
            raise ColumnMapError(f"--file {spec.path}: no such file")
    if args.dedup_window < 1:
        raise ValueError("--dedup-window must be >= 1")
    return IngestPlan(
        feeds=tuple(feeds),
        files=tuple(files),
        stdin=args.stdin,
        stdin_source=args.source or "stdin",
        stdin_timezone=zone,
        serve=serve,
        once=args.once,
        dedup_window=args.dedup_window,
        dedup_ttl=timedelta(hours=args.dedup_ttl_hours) if args.dedup_ttl_hours > 0 else None,
    )


def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        plan = build_plan(args)
    except (ColumnMapError, SourcesConfigError, ValueError) as exc:
        print(f"finsent ingest: {exc}", file=sys.stderr)
        return 2
    if plan.is_empty:
        print(
            "finsent ingest: nothing to read: give --feed, --file, --stdin, --serve or --sources",
            file=sys.stderr,
        )
        return 2

    from prometheus_client import CollectorRegistry

    from pipeline.kafka.broker import broker_for
    from pipeline.kafka.clients import ensure_topics, make_producer

    stop = threading.Event()
    registry = CollectorRegistry()
    with stop_on_signals(stop), broker_for(settings) as bootstrap:
        ensure_topics(
            bootstrap, [settings.topic_raw, settings.topic_dlq], partitions=settings.kafka_partitions
        )
        # acks=all and lz4 compression are make_producer's defaults
        producer = make_producer(bootstrap, client_id=f"{settings.kafka_client_id}-ingest")
        ops = None
        if plan.serve is None and settings.metrics_port is not None:
            from pipeline.observability import OpsServer

            ops = OpsServer(registry, lambda: {"ok": not stop.is_set()}, port=settings.metrics_port).start()
        try:
            counts = run_ingest(
                plan,
                producer,
                stop=stop,
                topic_raw=settings.topic_raw,
                topic_dlq=settings.topic_dlq,
                registry=registry,
            )
        finally:
            producer.close()
            if ops is not None:
                ops.stop()
    print(json.dumps(counts.as_dict()), flush=True)
    return 0
