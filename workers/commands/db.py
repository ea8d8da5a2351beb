"""`finsent db upgrade|downgrade|current`: manage the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.config import Settings
from pipeline.db import migrate


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("db", help="database schema migrations")
    commands = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")

    up = commands.add_parser("upgrade", help="migrate up (to the newest revision by default)")
    up.add_argument("--revision", default="head")
    up.set_defaults(handler=_upgrade)

    down = commands.add_parser("downgrade", help="migrate down to a revision (`base` drops all)")
    down.add_argument("--revision", required=True)
    down.set_defaults(handler=_downgrade)

    cur = commands.add_parser("current", help="print the database's revision")
    cur.set_defaults(handler=_current)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings.sqlalchemy_url, args.revision)
    print(migrate.current(settings.sqlalchemy_url))
    return 0


def _downgrade(args: argparse.Namespace, settings: Settings) -> int:
    migrate.downgrade(settings.sqlalchemy_url, args.revision)
    print(migrate.current(settings.sqlalchemy_url) or "base")
    return 0


def _current(_args: argparse.Namespace, settings: Settings) -> int:
    print(migrate.current(settings.sqlalchemy_url) or "base")
    return 0
