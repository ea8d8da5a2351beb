"""`finsent backtest`: the alerts the rules would have raised over history, on the live tick grid.

Writes `--out FILE.json` (sorted keys, no wall-clock time: the same inputs give byte-identical
files) and `FILE.csv` beside it; prints one JSON summary line. `--deliver RECEIVER` also sends the
alerts to that configured receiver, each marked `"backtest": true`.
Exit codes: 0 done, 1 nothing stored for the model version, 2 bad options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backtest", help="which alerts would have fired over history", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rules", type=Path, metavar="FILE", help="rules YAML (FINSENT_RULES_PATH, else defaults)")
    parser.add_argument("--from", dest="start", metavar="ISO", help="first evaluation (event time); default: first article")
    parser.add_argument("--to", dest="end", metavar="ISO", help="last evaluation (event time); default: last article + window")
    parser.add_argument("--topic", action="append", default=[], metavar="T", help="only these topics (repeatable)")
    parser.add_argument("--step", type=float, metavar="S", help="seconds between evaluations (FINSENT_ALERTS_INTERVAL_S)")
    parser.add_argument("--model-version", metavar="V", help="enrichments of this version (default: the active one)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.json", help="alerts as JSON (+ FILE.csv)")
    parser.add_argument("--deliver", metavar="RECEIVER", help="also send them to this receiver, marked backtest")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.rules import DEFAULT_RULES_PATH, RulesError, load_rules
    from workers.commands.replay import parse_when

    started = time.monotonic()
    rules_path = args.rules or settings.rules_path or DEFAULT_RULES_PATH
    try:
        start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
        rules = load_rules(rules_path)
        step = timedelta(seconds=args.step if args.step is not None else settings.alerts_interval_s)
        if step <= timedelta(0):
            raise ValueError("--step must be > 0")
    except (ValueError, OSError, RulesError) as exc:
        print(f"finsent backtest: {exc}", file=sys.stderr)
        return 2
    receiver = None
    if args.deliver:
        from alerts.receivers import load_receivers

        try:
            receivers = load_receivers(settings)
        except ValueError as exc:
            print(f"finsent backtest: {exc}", file=sys.stderr)
            return 2
        receiver = receivers.get(args.deliver)
        if receiver is None:
            print(f"finsent backtest: no receiver {args.deliver!r} (configured: {sorted(receivers)})", file=sys.stderr)
            return 2

    from alerts.backtest import default_bounds, run_backtest
    from alerts.backtest_delivery import deliver_backtest
    from alerts.backtest_report import to_csv, to_json
    from pipeline.db import open_database
    from pipeline.db.activation import active_version

    engine = open_database(settings)
    try:
        version = args.model_version or active_version(engine, settings.alerts_model_version).model_version
        if version is None:
            print("finsent backtest: no model version: give --model-version, set FINSENT_ALERTS_MODEL_VERSION "
                  "or run `finsent model activate V`", file=sys.stderr)
            return 1
        bounds = default_bounds(engine, rules, version, step)
        if bounds is None:
            print(f"finsent backtest: no enrichments stored for model version {version!r}", file=sys.stderr)
            return 1
        start, end = start or bounds[0], end or bounds[1]
        if start > end:
            print("finsent backtest: --from is after --to", file=sys.stderr)
            return 2
        result = run_backtest(
            engine, rules, version, start, end, step, rules_text=Path(rules_path).read_text(encoding="utf-8"),
            topics=args.topic,
        )
        out: Path = args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        csv_path = out.with_suffix(".csv")
        out.write_text(to_json(result), encoding="utf-8")
        csv_path.write_text(to_csv(result), encoding="utf-8")
        summary: dict[str, object] = {
            "ticks": result.ticks,
            "evaluated_ticks": result.evaluated,
            "firing": sum(e.event.status == "firing" for e in result.events),
            "resolved": sum(e.event.status == "resolved" for e in result.events),
            "model_version": version,
            "out": str(out),
            "csv": str(csv_path),
        }
        if receiver is not None:
            summary["delivery"] = deliver_backtest(
                engine, result, receiver, public_url=settings.public_url, delivery_run=uuid.uuid4().hex
            )
    finally:
        engine.dispose()
    summary["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary), flush=True)
    return 0
