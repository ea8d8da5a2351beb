"""`finsent watchlist add|list|rm|notices`: per-article notices on tickers, entity names, topics.

    finsent watchlist add "AAPL desk" --ticker AAPL --entity "Apple" --sentiment negative \
        --score-max -0.5 --min-relevance title --receiver desk --quiet-hours 22:00-07:00 \
        --timezone Europe/London --rate-limit 10/1h

Each command prints JSON lines (the watchlist, or one per watchlist / notice). `finsent worker
stream` picks changes up within `FINSENT_WATCHLIST_REFRESH_S`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from pipeline.config import Settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "watchlist", help="per-article notices on tickers, entities, topics: add, list, rm, notices"
    )
    commands = parser.add_subparsers(dest="watchlist_command", required=True, metavar="ACTION")

    add = commands.add_parser("add", help="add a watchlist (matches any of its tickers, entities, topics)")
    add.add_argument("name")
    add.add_argument("--owner", default=None, help="who it is for (default: the OS user)")
    add.add_argument("--ticker", action="append", default=[], help="a ticker, e.g. AAPL (repeatable)")
    add.add_argument("--entity", action="append", default=[], help="an entity name, e.g. 'Apple' (repeatable)")
    add.add_argument("--topic", action="append", default=[], help="a topic, e.g. 'Energy | Oil' (repeatable)")
    add.add_argument(
        "--sentiment", action="append", default=[], choices=("negative", "neutral", "positive"),
        help="notify only for this sentiment (repeatable: any of them)",
    )
    add.add_argument("--score-max", type=float, default=None, help="only if P(pos) - P(neg) <= this")
    add.add_argument("--score-min", type=float, default=None, help="only if P(pos) - P(neg) >= this")
    add.add_argument("--prob", default=None, metavar="LABEL:MIN", help="only if P(LABEL) >= MIN, e.g. negative:0.8")
    add.add_argument(
        "--min-relevance", choices=("mention", "title"), default="mention",
        help="title: the ticker or entity must be in the title (topics always count)",
    )
    add.add_argument("--receiver", action="append", default=[], help="receiver name (repeatable; default: all)")
    add.add_argument("--quiet-hours", default=None, metavar="HH:MM-HH:MM", help="no notices then (dropped, counted)")
    add.add_argument("--timezone", default="UTC", help="zone of --quiet-hours (IANA name; UTC)")
    add.add_argument("--rate-limit", default=None, metavar="N/PERIOD", help="at most N notices per PERIOD, e.g. 10/1h")
    add.set_defaults(handler=_add)

    ls = commands.add_parser("list", help="list active watchlists")
    ls.add_argument("--owner", default=None)
    ls.set_defaults(handler=_list)

    rm = commands.add_parser("rm", help="remove a watchlist (by id or name)")
    rm.add_argument("ref", metavar="ID|NAME")
    rm.set_defaults(handler=_rm)

    notices = commands.add_parser("notices", help="latest notices, queued or suppressed (with why)")
    notices.add_argument("--watchlist", type=int, default=None, metavar="ID")
    notices.add_argument("--limit", type=int, default=50)
    notices.set_defaults(handler=_notices)


def _fail(message: str) -> int:
    print(f"finsent watchlist: {message}", file=sys.stderr)
    return 2


def spec_from_args(args: argparse.Namespace) -> Any:
    """The `WatchlistSpec` the `add` arguments describe (raises ValueError / ValidationError)."""
    from alerts.watchlists.model import QuietHours, RateLimit, SentimentCondition, WatchlistSpec

    condition: dict[str, Any] = {"labels": tuple(args.sentiment), "max_score": args.score_max, "min_score": args.score_min}
    if args.prob:
        label, sep, value = args.prob.partition(":")
        if not sep:
            raise ValueError(f"--prob {args.prob!r}: use LABEL:MIN, e.g. negative:0.8")
        condition.update(probability_of=label.strip(), min_probability=float(value))
    return WatchlistSpec(
        name=args.name,
        owner=args.owner or getpass.getuser(),
        tickers=tuple(args.ticker),
        entities=tuple(args.entity),
        topics=tuple(args.topic),
        condition=SentimentCondition(**condition),
        min_relevance=args.min_relevance,
        receivers=tuple(args.receiver),
        quiet_hours=QuietHours.parse(args.quiet_hours, args.timezone) if args.quiet_hours else None,
        rate_limit=RateLimit.parse(args.rate_limit) if args.rate_limit else None,
    )


def _show(watchlist: Any) -> str:
    return json.dumps(watchlist.model_dump(mode="json"))


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from alerts.watchlists.store import WatchlistError, add_watchlist
    from pipeline.db import open_database
    from schemas import utc_now

    try:
        spec = spec_from_args(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'watchlist'}: {e['msg']}" for e in exc.errors())
        return _fail(problems)
    except ValueError as exc:
        return _fail(str(exc))
    db = open_database(settings)
    try:
        print(_show(add_watchlist(db, spec, now=utc_now())))
    except WatchlistError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.watchlists.store import list_watchlists
    from pipeline.db import open_database

    db = open_database(settings)
    for w in list_watchlists(db, owner=args.owner):
        print(_show(w))
    db.dispose()
    return 0


def _rm(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.watchlists.store import remove_watchlist
    from pipeline.db import open_database
    from schemas import utc_now

    db = open_database(settings)
    ref: int | str = int(args.ref) if args.ref.isdigit() else args.ref
    removed = remove_watchlist(db, ref, now=utc_now())
    db.dispose()
    print(json.dumps({"removed": removed.id if removed else None, "ref": args.ref}))
    return 0 if removed else 1


def _notices(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.watchlists.store import recent_notices
    from pipeline.db import open_database

    db = open_database(settings)
    for notice in recent_notices(db, watchlist_id=args.watchlist, limit=args.limit):
        print(json.dumps(notice, default=str))
    db.dispose()
    return 0
