"""finsent: a streaming monitor for financial news sentiment.

News comes in (`finsent ingest` for feeds and files, `finsent serve` for the HTTP API), one model worker scores each item once (`finsent worker model`),
results land in the database, and the alert rules fire signed webhooks (`finsent worker alerts`).
`finsent demo` runs the whole path on the embedded default; `finsent COMMAND --help` says more.
Settings are FINSENT_* environment variables (see the README).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from pipeline.config import Settings
from pipeline.logs import configure_logging

COMMAND_MODULES: tuple[str, ...] = (
    "workers.commands.broker",
    "workers.commands.db",
    "workers.commands.ingest",
    "workers.commands.serve",
    "workers.commands.token",
    "workers.commands.worker",
    "workers.commands.demo",
    "workers.commands.alerts",
    "workers.commands.silence",
    "workers.commands.watchlist",
    "workers.commands.replay",
    "workers.commands.compare",
    "workers.commands.backtest",
    "workers.commands.model",
)
"""Each module exposes `register(subparsers)`, which adds its parser and sets
`handler=callable(args, settings) -> int` as the parser default."""

log = logging.getLogger("finsent")


def build_parser(command_modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    doc = __doc__ or "finsent"
    parser = argparse.ArgumentParser(
        prog="finsent",
        description=doc.split("\n\n", 1)[-1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of a failure (or FINSENT_LOG_LEVEL=DEBUG)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in command_modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, command_modules: Sequence[str] = COMMAND_MODULES) -> int:
    """Run one command; `command_modules` narrows the commands known (and so the imports paid)."""
    args = build_parser(command_modules).parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "FINSENT_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"finsent: setting {name}: {error['msg']}", file=sys.stderr)
        return 2
    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    try:
        return int(args.handler(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from workers.errors import explain

        problem = explain(exc, settings)
        if problem is None or args.debug or settings.log_level.upper() == "DEBUG":
            raise
        print(f"finsent {args.command}: {problem.message}", file=sys.stderr)
        print("(run with --debug, or FINSENT_LOG_LEVEL=DEBUG, for the traceback)", file=sys.stderr)
        return problem.exit_code


if __name__ == "__main__":
    sys.exit(main())
