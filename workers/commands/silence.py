"""`finsent silence add|list|expire`: mute matching alerts for a while."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from pipeline.config import Settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("silence", help="mute alerts: add, list, expire")
    commands = parser.add_subparsers(dest="silence_command", required=True, metavar="ACTION")

    add = commands.add_parser("add", help="add a silence (every matcher must equal the alert's label)")
    add.add_argument("--topic", help="topic label, e.g. 'Energy | Oil'")
    add.add_argument("--rule", help="rule name")
    add.add_argument("--ticker", help="ticker label (rules grouped by ticker)")
    add.add_argument("--label", action="append", default=[], metavar="NAME=VALUE", help="any other label")
    add.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d ...")
    add.add_argument("--comment", default="", help="why")
    add.add_argument("--by", default=None, help="who (default: the OS user)")
    add.set_defaults(handler=_add)

    ls = commands.add_parser("list", help="list active silences")
    ls.add_argument("--all", action="store_true", help="include expired ones")
    ls.set_defaults(handler=_list)

    expire = commands.add_parser("expire", help="end a silence now")
    expire.add_argument("id", type=int)
    expire.set_defaults(handler=_expire)


def _show(s: Any) -> str:
    return json.dumps(
        {
            "id": s.id,
            "matchers": dict(s.matchers),
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "comment": s.comment,
            "created_by": s.created_by,
        }
    )


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.rules import parse_duration
    from alerts.silences import add_silence
    from pipeline.db import open_database
    from schemas import utc_now

    matchers = {k: v for k, v in (("topic", args.topic), ("rule", args.rule), ("ticker", args.ticker)) if v}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--label {item!r}: use NAME=VALUE")
        matchers[name] = value
    if not matchers:
        raise SystemExit("give at least one of --topic, --rule, --ticker, --label")
    db = open_database(settings)
    silence = add_silence(
        db,
        matchers,
        now=utc_now(),
        duration=parse_duration(args.duration),
        comment=args.comment,
        created_by=args.by or getpass.getuser(),
    )
    print(_show(silence))
    db.dispose()
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.silences import list_silences
    from pipeline.db import open_database
    from schemas import utc_now

    db = open_database(settings)
    for s in list_silences(db, utc_now(), include_expired=args.all):
        print(_show(s))
    db.dispose()
    return 0


def _expire(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.silences import expire_silence
    from pipeline.db import open_database
    from schemas import utc_now

    db = open_database(settings)
    ok = expire_silence(db, args.id, utc_now())
    db.dispose()
    print(json.dumps({"id": args.id, "expired": ok}))
    return 0 if ok else 1
