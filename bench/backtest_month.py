"""Backtest speed: the event-driven backtest on the live 30 s grid, two cases.

    .venv/bin/python bench/backtest_month.py                          # month: 1,000,000 articles
    .venv/bin/python bench/backtest_month.py --case decade            # 10,000 articles, ten years
    .venv/bin/python bench/backtest_month.py --compare-ref 4a8b282    # + the same command at that commit

`month`: 1,000,000 enrichments over 60 days (`bench/alerts_eval.py`'s generated data: 20 topics,
20% negative, a ticker entity on 20%), the default rules over the last 30 days (86,401 ticks;
target >= 5x faster than ticking every 30 s). `decade`: 10,000 enrichments over ten years the way
news comes, in clusters (500 stories of 20 articles 30 s apart, one topic each, every fifth story
80% negative, a ticker on half), the whole range backtested (10.5 million ticks; target < 30 s).

Fills a scratch Postgres database, then times `alerts.backtest.run_backtest` (loading the rows
included) and prints one JSON line. With `--compare-ref REF` it first runs this same script as it
was at git revision REF (a fresh `git archive` of it, same virtualenv, its own scratch database)
and prints both figures side by side with the ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerts.backtest import run_backtest  # noqa: E402
from alerts.backtest_report import to_json  # noqa: E402
from alerts.rules import DEFAULT_RULES_PATH, load_rules  # noqa: E402
from bench.alerts_eval import END, VERSION, fill  # noqa: E402
from bench.common import scratch_postgres  # noqa: E402
from pipeline.db import make_engine, migrate  # noqa: E402
from pipeline.model.labels import TOPIC_NAMES  # noqa: E402

CLUSTERED = """
INSERT INTO articles (id, source, url, title, body, published_at, language, tickers, ingested_at)
SELECT 'c' || lpad(i::text, 12, '0'), 'bench', 'https://news.example.com/' || i, 'headline ' || i, '',
       :start + ((i / :size)::bigint * :span / (:rows / :size)) * interval '1 second' + (i % :size) * interval '30 seconds',
       'en', '[]'::jsonb, :start
FROM generate_series(0, :rows - 1) AS i;

INSERT INTO enrichments (news_id, model_version, published_at, topic, topic_score, sentiment,
                         p_negative, p_neutral, p_positive, sentiment_score, processed_at)
SELECT a.id, :version, a.published_at, (CAST(:topics AS text[]))[1 + (n / :size) % 20], 0.9, s.sentiment,
       s.pn, 0.1, 0.9 - s.pn, 0.9 - 2 * s.pn, a.published_at
FROM (SELECT id, published_at, substr(id, 2)::bigint AS n FROM articles) AS a
CROSS JOIN LATERAL (
    SELECT CASE WHEN (n / :size) % 5 = 0 AND n % 5 <> 0 THEN 'negative'
                WHEN n % 5 = 0 THEN 'negative' ELSE 'neutral' END AS sentiment,
           CASE WHEN (n / :size) % 5 = 0 AND n % 5 <> 0 THEN 0.8 WHEN n % 5 = 0 THEN 0.8 ELSE 0.05 END AS pn
) AS s;

INSERT INTO entities (enrichment_id, text, label, start_char, end_char, confidence, ticker)
SELECT e.id, 'Company', 'ORG', 0, 7, 0.9, 'T' || ((substr(e.news_id, 2)::bigint / :size) % 50)
FROM enrichments e WHERE substr(e.news_id, 2)::bigint % 2 = 0;

ANALYZE;
"""


def fill_clustered(url: str, rows: int, days: int, size: int = 20) -> float:
    from sqlalchemy import text

    engine = make_engine(url)
    started = time.perf_counter()
    params = {"start": END - timedelta(days=days), "span": days * 86_400, "rows": rows, "size": size,
              "version": VERSION, "topics": list(TOPIC_NAMES)}
    with engine.begin() as conn:
        for statement in (s.strip() for s in CLUSTERED.split(";")):
            if statement:
                conn.execute(text(statement), params)
    engine.dispose()
    return time.perf_counter() - started

CASES = {
    "month": {"rows": 1_000_000, "days": 60, "backtest_days": 30.0},
    "decade": {"rows": 10_000, "days": 3650, "backtest_days": 3650.0, "clustered": True},
}


def measure(rows: int, days: int, backtest_days: float, step_s: float, clustered: bool = False) -> dict[str, object]:
    rules = load_rules(DEFAULT_RULES_PATH)
    with scratch_postgres() as url:
        migrate.upgrade(url)
        fill_s = fill_clustered(url, rows, days) if clustered else fill(url, rows, days)
        engine = make_engine(url)
        start = END - timedelta(days=backtest_days)
        started = time.perf_counter()
        result = run_backtest(engine, rules, VERSION, start, END, timedelta(seconds=step_s))
        seconds = time.perf_counter() - started
        size = len(to_json(result))
        engine.dispose()
    return {
        "rows": rows, "days": days, "backtest_days": backtest_days, "ticks": result.ticks,
        "evaluated_ticks": result.evaluated, "events": len(result.events), "seconds": round(seconds, 1),
        "fill_seconds": round(fill_s, 1), "json_bytes": size,
    }


def at_revision(ref: str, arguments: list[str]) -> dict[str, object]:
    """This script's output at git revision `ref` (its last JSON line)."""
    with tempfile.TemporaryDirectory(prefix="finsent-bench-") as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        out = subprocess.run(
            [sys.executable, str(Path(folder) / "bench" / "backtest_month.py"), *arguments],
            check=True, capture_output=True, text=True, cwd=folder,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="month")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--backtest-days", type=float)
    parser.add_argument("--step", type=float, default=30.0)
    parser.add_argument("--compare-ref", metavar="REF", help="also run this script as it was at git revision REF")
    args = parser.parse_args()
    case = {**CASES[args.case]}
    case.update({k: v for k, v in (("rows", args.rows), ("days", args.days), ("backtest_days", args.backtest_days))
                 if v is not None})
    before = None
    if args.compare_ref:
        old_args = ["--rows", str(case["rows"]), "--days", str(case["days"]),
                    "--backtest-days", str(case["backtest_days"]), "--step", str(args.step)]
        before = at_revision(args.compare_ref, old_args)
    now = measure(int(case["rows"]), int(case["days"]), float(case["backtest_days"]), args.step,
                  bool(case.get("clustered")))
    print(json.dumps({"case": args.case, **now}))
    if before is not None:
        ratio = float(before["seconds"]) / max(float(now["seconds"]), 1e-9)  # type: ignore[arg-type]
        print(json.dumps({"case": args.case, "ref": args.compare_ref, "ref_seconds": before["seconds"],
                          "ref_events": before.get("events"), "seconds": now["seconds"], "events": now["events"],
                          "speedup": round(ratio, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
