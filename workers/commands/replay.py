"""`finsent replay`: re-score history (an archive, stored articles or a Kafka topic) through the
model-worker logic, on its own topic and consumer group or in process, resumable.

Ends with one JSON line on stdout: `{"read", "enriched", "already_stored", "dlq", "seconds",
"model_version", "resumed_from", ...}`. Exit codes: 0 done, 2 bad options, 130 interrupted
(Ctrl-C / SIGTERM: the current batch is finished and checkpointed; run the same command again to
resume, `--restart` to start over).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.enrichment import PredictorLike

log = logging.getLogger(__name__)

INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-score history (archive, stored articles, Kafka topic) under a model version",
        description=__doc__.split("\n\n")[0],
    )
    src = parser.add_argument_group("source (exactly one)")
    src.add_argument("--file", action="append", default=[], type=Path, metavar="PATH",
                     help="CSV or JSONL archive, optionally .gz (repeatable)")
    src.add_argument("--from-db", action="store_true", help="the articles stored in the database")
    src.add_argument("--from-kafka", nargs="?", const="", default=None, metavar="TOPIC",
                     help="a Kafka topic (default FINSENT_TOPIC_RAW) from --from by record timestamp")
    archive = parser.add_argument_group("archive options (as in finsent ingest)")
    archive.add_argument("--map", action="append", default=[], metavar="FIELD=COL",
                         help="column of a RawNews field in --file (repeatable), e.g. title=headline")
    archive.add_argument("--source", default="", metavar="NAME", help="source name for --file items")
    archive.add_argument("--timezone", default="UTC", metavar="ZONE", help="zone of naive times in --file (UTC)")
    filters = parser.add_argument_group("filters")
    filters.add_argument("--from", dest="start", metavar="ISO", help="event time (published_at) >= this")
    filters.add_argument("--to", dest="end", metavar="ISO", help="event time (published_at) < this")
    filters.add_argument("--topic", action="append", default=[], metavar="T", help="--from-db: topic (repeatable)")
    filters.add_argument("--entity", action="append", default=[], metavar="NAME",
                         help="--from-db: mentions this entity (repeatable)")
    filters.add_argument("--ticker", action="append", default=[], metavar="SYM",
                         help="--from-db: mentions this ticker (repeatable)")
    filters.add_argument("--query", metavar="TEXT", help="--from-db: title or body contains TEXT (any case)")
    filters.add_argument("--filter-version", metavar="V",
                         help="--from-db: model version whose topics/entities the filters read (latest)")
    model = parser.add_argument_group("model")
    model.add_argument("--model-version", metavar="V",
                       help="store results under this version (old results are kept for comparison)")
    model.add_argument("--model-path", type=Path, metavar="DIR", help="checkpoint to load (FINSENT_MODEL_PATH)")
    run = parser.add_argument_group("run")
    run.add_argument("--via", choices=("auto", "kafka", "process"), default="auto",
                     help="auto: the replay topic when FINSENT_KAFKA_BOOTSTRAP is set, else in process")
    run.add_argument("--rate", type=float, metavar="N", help="at most N documents per second")
    run.add_argument("--batch-size", type=int, metavar="N", help="items per batch (FINSENT_BATCH_MAX_ITEMS)")
    run.add_argument("--restart", action="store_true", help="ignore this run's checkpoint, start over")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=handle)


def parse_when(text: str | None, option: str) -> datetime | None:
    """An ISO date or date-time; naive means UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: expected an ISO date or date-time (e.g. 2020-03-01)") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def source_arguments(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The options that decide *what* is replayed, normalised (the run id's input)."""
    chosen = [bool(args.file), bool(args.from_db), args.from_kafka is not None]
    if sum(chosen) != 1:
        raise ValueError("give exactly one source: --file, --from-db or --from-kafka")
    db_only = {"--topic": args.topic, "--entity": args.entity, "--ticker": args.ticker,
               "--query": args.query, "--filter-version": args.filter_version}
    if not args.from_db and any(db_only.values()):
        raise ValueError(f"{', '.join(k for k, v in db_only.items() if v)} only apply to --from-db")
    if args.map and not args.file:
        raise ValueError("--map applies to --file; no --file given")
    start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    if start and end and start >= end:
        raise ValueError("--from must be before --to")
    out: dict[str, Any] = {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "database": _database_label(settings),
    }
    if args.file:
        for path in args.file:
            if not path.is_file():
                raise ValueError(f"--file {path}: no such file")
        out.update(kind="file", files=[str(p.resolve()) for p in args.file], map=sorted(args.map),
                   source=args.source, timezone=args.timezone)
    elif args.from_db:
        out.update(kind="db", topics=sorted(set(args.topic)), entities=sorted({e.lower() for e in args.entity}),
                   tickers=sorted({t.upper() for t in args.ticker}), query=args.query,
                   filter_version=args.filter_version)
    else:
        out.update(kind="kafka", topic=args.from_kafka or settings.topic_raw, bootstrap=settings.kafka_bootstrap)
    return out


def _database_label(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)


def build_source(arguments: dict[str, Any], settings: Settings, engine: Any) -> Any:
    from pipeline.ingest.sources.archive import ColumnMap
    from pipeline.ingest.sources_config import parse_timezone
    from pipeline.kafka.security import KafkaSecurity
    from pipeline.replay.sources import (
        ArchiveSource,
        ArticleFilter,
        KafkaTopicSource,
        StoredArticles,
        TimeRange,
    )

    start = datetime.fromisoformat(arguments["from"]) if arguments["from"] else None
    end = datetime.fromisoformat(arguments["to"]) if arguments["to"] else None
    window = TimeRange(start, end)
    if arguments["kind"] == "file":
        return ArchiveSource(
            paths=[Path(p) for p in arguments["files"]],
            column_map=ColumnMap.parse(arguments["map"]),
            source=arguments["source"],
            timezone=parse_timezone(arguments["timezone"]),
            time_range=window,
        )
    if arguments["kind"] == "db":
        return StoredArticles(
            engine,
            ArticleFilter(
                time_range=window,
                topics=tuple(arguments["topics"]),
                entities=tuple(arguments["entities"]),
                tickers=tuple(arguments["tickers"]),
                query=arguments["query"],
                version=arguments["filter_version"],
            ),
        )
    if not settings.kafka_bootstrap:
        raise ValueError("--from-kafka needs FINSENT_KAFKA_BOOTSTRAP (the embedded broker keeps no history)")
    return KafkaTopicSource(
        settings.kafka_bootstrap,
        arguments["topic"],
        since=start,
        time_range=window,
        security=KafkaSecurity.from_settings(settings),
    )


def load_predictor_for(args: argparse.Namespace, settings: Settings) -> PredictorLike:
    """The predictor to score with (a seam for tests), before any `--model-version` override."""
    from workers.model_worker import predictor_from_settings

    if args.model_path is not None:
        settings = settings.model_copy(update={"model_path": args.model_path})
    return predictor_from_settings(settings)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        arguments = source_arguments(args, settings)
        if args.batch_size is not None and args.batch_size < 1:
            raise ValueError("--batch-size must be >= 1")
        if args.rate is not None and args.rate <= 0:
            raise ValueError("--rate must be > 0")
        if args.via == "kafka" and arguments["kind"] == "kafka" and not settings.kafka_bootstrap:
            raise ValueError("--from-kafka needs FINSENT_KAFKA_BOOTSTRAP")
    except ValueError as exc:
        print(f"finsent replay: {exc}", file=sys.stderr)
        return 2

    from pipeline.db import open_database
    from pipeline.kafka.broker import broker_for
    from pipeline.replay.checkpoint import run_id
    from pipeline.replay.versioned import with_version
    from workers.lifecycle import stop_on_signals
    from workers.replay import ReplayPlan, run_replay

    predictor = with_version(load_predictor_for(args, settings), args.model_version)
    arguments.update(
        model_version=predictor.model_version,
        model_path=str(args.model_path.resolve()) if args.model_path else None,
    )
    via = args.via if args.via != "auto" else ("kafka" if settings.kafka_bootstrap else "process")
    engine = open_database(settings)
    stop = threading.Event()
    try:
        try:
            source = build_source(arguments, settings, engine)
        except ValueError as exc:
            print(f"finsent replay: {exc}", file=sys.stderr)
            return 2
        plan = ReplayPlan(
            source=source,
            run_id=run_id(arguments),
            arguments=arguments,
            via=via,  # type: ignore[arg-type]
            batch_size=args.batch_size or settings.batch_max_items,
            rate=args.rate,
            restart=args.restart,
        )
        with stop_on_signals(stop):
            if via == "kafka":
                with broker_for(settings) as bootstrap:
                    summary = run_replay(plan, settings=settings, engine=engine, predictor=predictor,
                                         stop=stop, bootstrap=bootstrap, progress=not args.no_progress)
            else:
                summary = run_replay(plan, settings=settings, engine=engine, predictor=predictor,
                                     stop=stop, progress=not args.no_progress)
    finally:
        engine.dispose()
    print(json.dumps(summary.as_dict(), sort_keys=False), flush=True)
    return INTERRUPTED if summary.interrupted else 0
