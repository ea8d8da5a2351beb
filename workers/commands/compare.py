"""`finsent compare --a V1 --b V2`: per-topic sentiment shift between two model versions.

Over the articles scored by both versions (optionally within `--from`/`--to` on event time and
`--topic`s of version A): n, the share of changed sentiment labels, mean score under A and B and
the delta (B - A), and topic changes. A plain table, or one JSON line with `--json`.
Exit codes: 0 done, 1 no article scored by both, 2 bad options.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare", help="per-topic sentiment shift between two model versions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--a", required=True, metavar="V1", help="the reference model version")
    parser.add_argument("--b", required=True, metavar="V2", help="the model version compared with it")
    parser.add_argument("--from", dest="start", metavar="ISO", help="event time (published_at) >= this")
    parser.add_argument("--to", dest="end", metavar="ISO", help="event time (published_at) < this")
    parser.add_argument("--topic", action="append", default=[], metavar="T", help="topic of version A (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of the table")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    from workers.commands.replay import parse_when

    try:
        start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    except ValueError as exc:
        print(f"finsent compare: {exc}", file=sys.stderr)
        return 2

    from pipeline.db import open_database
    from pipeline.replay.compare import compare_versions, format_table, to_json

    engine = open_database(settings)
    try:
        shifts = compare_versions(engine, args.a, args.b, start=start, end=end, topics=args.topic)
    finally:
        engine.dispose()
    print(to_json(shifts, args.a, args.b) if args.json else format_table(shifts, args.a, args.b), flush=True)
    if shifts[-1].n == 0:
        print(f"finsent compare: no article is scored by both {args.a!r} and {args.b!r}", file=sys.stderr)
        return 1
    return 0
