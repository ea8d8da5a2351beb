"""The `finsent` command line. Each command lives in its own module under `workers/commands/`.

A command module exposes `register(subparsers) -> None`, which adds its parser and sets
`handler=callable(args, settings) -> int` as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pipeline.config import Settings
from pipeline.logs import configure_logging

COMMAND_MODULES: tuple[str, ...] = (
    "workers.commands.broker",
    "workers.commands.db",
    "workers.commands.ingest",
    "workers.commands.worker",
    "workers.commands.demo",
    "workers.commands.alerts",
    "workers.commands.silence",
    "workers.commands.replay",
    "workers.commands.compare",
    "workers.commands.backtest",
    "workers.commands.model",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finsent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    return int(args.handler(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
