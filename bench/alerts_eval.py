"""Benchmark: one full alerts evaluation tick over 20 topics x 30 days (~1M enrichments) on Postgres.

    .venv/bin/python bench/alerts_eval.py [--rows 1000000] [--days 30] [--repeat 5]

Creates a scratch database (BENCH_DATABASE_URL names the server; default local postgres),
migrates it, fills articles + enrichments (+ one ticker entity on 20% of them) with
`INSERT ... SELECT generate_series`, ANALYZEs, then times `AlertEngine.tick(now)` with the default
rules at the end of the data and prints the seconds and the fraction of the 30 s evaluation
interval: "cold" ticks compute every baseline (a fresh engine, or the first tick of each 5-minute
baseline step), "warm" ticks (the other nine in each step) reuse the cached baselines. The
database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from alerts.engine import AlertEngine  # noqa: E402
from alerts.rules import DEFAULT_RULES_PATH, load_rules  # noqa: E402
from alerts.state_store import InMemoryStateStore, SqlStateStore  # noqa: E402
from bench.common import scratch_postgres  # noqa: E402
from pipeline.db import make_engine, migrate  # noqa: E402
from pipeline.model.labels import TOPIC_NAMES  # noqa: E402

VERSION = "bench-model"
END = datetime(2026, 11, 1, tzinfo=UTC)

FILL = """
INSERT INTO articles (id, source, url, title, body, published_at, language, tickers, ingested_at)
SELECT 'b' || lpad(i::text, 12, '0'), 'bench', 'https://news.example.com/' || i, 'headline ' || i, '',
       :start + (i::bigint * :span / :rows) * interval '1 second', 'en', '[]'::jsonb,
       :start + (i::bigint * :span / :rows) * interval '1 second'
FROM generate_series(1, :rows) AS i;

INSERT INTO enrichments (news_id, model_version, published_at, topic, topic_score, sentiment,
                         p_negative, p_neutral, p_positive, sentiment_score, processed_at)
SELECT a.id, :version, a.published_at, (CAST(:topics AS text[]))[1 + (hashtext(a.id) & 2147483647) % 20], 0.9, s.sentiment,
       s.pn, s.pu, s.pp, s.pp - s.pn, a.published_at
FROM articles a
CROSS JOIN LATERAL (
    SELECT CASE WHEN r < 0.2 THEN 'negative' WHEN r < 0.7 THEN 'neutral' ELSE 'positive' END AS sentiment,
           CASE WHEN r < 0.2 THEN 0.8 WHEN r < 0.7 THEN 0.1 ELSE 0.05 END AS pn,
           CASE WHEN r < 0.2 THEN 0.15 WHEN r < 0.7 THEN 0.8 ELSE 0.25 END AS pu,
           CASE WHEN r < 0.2 THEN 0.05 WHEN r < 0.7 THEN 0.1 ELSE 0.7 END AS pp
    FROM (SELECT ((hashtext(a.id || 's') & 2147483647) % 1000) / 1000.0 AS r) AS x
) AS s;

INSERT INTO entities (enrichment_id, text, label, start_char, end_char, confidence, ticker)
SELECT e.id, 'Company ' || t, 'ORG', 0, 10, 0.9, 'T' || t
FROM enrichments e
CROSS JOIN LATERAL (SELECT (hashtext(e.news_id || 't') & 2147483647) % 500 AS t) AS x
WHERE (hashtext(e.news_id || 'e') & 2147483647) % 5 = 0;

ANALYZE;
"""


def fill(url: str, rows: int, days: int) -> float:
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in (s.strip() for s in FILL.split(";")):
            if statement:
                conn.execute(
                    text(statement),
                    {
                        "start": END - timedelta(days=days),
                        "span": days * 86_400,
                        "rows": rows,
                        "version": VERSION,
                        "topics": list(TOPIC_NAMES),
                    },
                )
    engine.dispose()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--interval", type=float, default=30.0, help="the evaluation interval to compare to")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES_PATH)
    with scratch_postgres() as url:
        migrate.upgrade(url)
        fill_s = fill(url, args.rows, args.days)
        engine = make_engine(url)
        with engine.connect() as conn:
            counts = conn.execute(
                text("SELECT (SELECT count(*) FROM enrichments), (SELECT count(*) FROM entities)")
            ).one()
        # cold: a fresh engine computes every baseline (what happens once per 5-minute step)
        cold = []
        for i in range(args.repeat):
            live = AlertEngine(engine, rules, SqlStateStore(engine, {}), model_version=VERSION)
            started = time.perf_counter()
            result = live.tick(END + timedelta(minutes=5 * i))
            cold.append(time.perf_counter() - started)
        # warm: the live cadence, 30 s apart inside one 5-minute step (baselines cached)
        warm = []
        step_start = END + timedelta(minutes=5 * args.repeat)
        live.tick(step_start)
        for i in range(1, 10):
            started = time.perf_counter()
            live.tick(step_start + timedelta(seconds=30 * i))
            warm.append(time.perf_counter() - started)
        backtest = AlertEngine(engine, rules, InMemoryStateStore(), model_version=VERSION)
        started = time.perf_counter()
        backtest.tick(END)
        backtest_s = time.perf_counter() - started
        engine.dispose()
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    mean_s = (cold_s + 9 * warm_s) / 10  # one cold and nine warm ticks per 5 minutes
    print(
        json.dumps(
            {
                "enrichments": counts[0],
                "entities": counts[1],
                "topics": len(TOPIC_NAMES),
                "days": args.days,
                "rules": len(rules.rules),
                "groups_evaluated": len(result.decisions),
                "fill_seconds": round(fill_s, 1),
                "cold_tick_seconds_median": round(cold_s, 3),
                "cold_tick_seconds_max": round(max(cold), 3),
                "warm_tick_seconds_median": round(warm_s, 3),
                "mean_tick_seconds": round(mean_s, 3),
                "backtest_cold_tick_seconds": round(backtest_s, 3),
                "cold_fraction_of_interval": round(cold_s / args.interval, 4),
                "mean_fraction_of_interval": round(mean_s / args.interval, 4),
            }
        )
    )
    print(
        f"one evaluation tick: cold {cold_s:.3f} s ({cold_s / args.interval:.1%} of the {args.interval:g} s "
        f"interval), warm {warm_s:.3f} s, mean {mean_s:.3f} s ({mean_s / args.interval:.1%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
