"""Backtest speed: a month of event time at the live 30 s cadence (86,400 ticks) in one run.

    .venv/bin/python bench/backtest_month.py [--rows 1000000] [--days 60] [--backtest-days 30]

Fills a scratch Postgres database like `bench/alerts_eval.py` (20 topics, 20% negative, a ticker
entity on 20% of the enrichments over `--days`), then runs `workers.backtest.run_backtest` with
the default rules over the last `--backtest-days`, and prints the load and tick timings. A live
SQL tick per step would cost `bench/alerts_eval.py`'s cold/warm tick times per tick instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.backtest import run_backtest, to_json  # noqa: E402

from alerts.rules import DEFAULT_RULES_PATH, load_rules  # noqa: E402
from bench.alerts_eval import END, VERSION, fill  # noqa: E402
from bench.common import scratch_postgres  # noqa: E402
from pipeline.db import make_engine, migrate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--backtest-days", type=float, default=30.0)
    parser.add_argument("--step", type=float, default=30.0)
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES_PATH)
    with scratch_postgres() as url:
        migrate.upgrade(url)
        fill_s = fill(url, args.rows, args.days)
        engine = make_engine(url)
        start = END - timedelta(days=args.backtest_days)
        started = time.perf_counter()
        result = run_backtest(engine, rules, VERSION, start, END, timedelta(seconds=args.step))
        seconds = time.perf_counter() - started
        size = len(to_json(result))
        engine.dispose()
    print(json.dumps({
        "rows": args.rows, "days": args.days, "backtest_days": args.backtest_days, "ticks": result.ticks,
        "events": len(result.events), "seconds": round(seconds, 1), "ms_per_tick": round(1000 * seconds / result.ticks, 3),
        "fill_seconds": round(fill_s, 1), "json_bytes": size,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
