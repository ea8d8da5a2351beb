"""Read API latency on 1,000,000 enrichments in Postgres: p50/p95 of the topics, timeline and
articles endpoints, through the real app over HTTP.

    .venv/bin/python bench/api_latency.py [--rows 1000000] [--days 30] [--requests 60]

Creates a scratch database (BENCH_DATABASE_URL names the server; default local postgres),
migrates it (the full-text index of migration 0006 included), fills it like `bench/alerts_eval.py`
(articles + enrichments over 20 topics, one ticker entity on 20% of them, `INSERT ... SELECT
generate_series`), VACUUM ANALYZEs it (what autovacuum does after a bulk load: the covering
indexes' index-only scans need the visibility map), activates the version, serves `create_analyst_app` on a free port, and times
`--requests` requests per case with httpx after 3 warm-up requests (the client's wall time:
HTTP, routing, auth, SQL and JSON). Prints one JSON line and a table; the database is dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.alerts_eval import END, VERSION, fill  # noqa: E402
from bench.common import percentile, scratch_postgres  # noqa: E402
from pipeline.api_tokens import TokenRegistry, create_token  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.db import make_engine, migrate  # noqa: E402
from pipeline.db.activation import activate  # noqa: E402
from workers.http import AppContext  # noqa: E402
from workers.http.analyst import create_analyst_app  # noqa: E402
from workers.http.server import ServerThread  # noqa: E402

TOPIC = "Earnings"
WARM_UP = 3


def cases(client: httpx.Client) -> dict[str, str]:
    """Case name -> request path (cursors taken from real first pages)."""
    first = client.get("/v1/articles", params={"limit": 50}).json()
    page = first
    for _ in range(19):  # 20 pages deep
        page = client.get("/v1/articles", params={"limit": 50, "cursor": page["next_cursor"]}).json()
    topic_first = client.get("/v1/articles", params={"limit": 50, "topic": TOPIC}).json()
    month_ago = (END - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "topics (window 1h, baseline 24h)": "/v1/topics",
        "topics (window 1h, baseline 7d)": "/v1/topics?baseline=7d",
        "timeline 1h buckets, 7 d": f"/v1/topics/{TOPIC}/timeline?bucket=1h",
        "timeline 5m buckets, 12 h": f"/v1/topics/{TOPIC}/timeline?bucket=5m",
        "timeline 1d buckets, 30 d": f"/v1/topics/{TOPIC}/timeline?bucket=1d&from={month_ago}",
        "articles, first page (50)": "/v1/articles?limit=50",
        "articles, page 21 (cursor)": f"/v1/articles?limit=50&cursor={page['next_cursor']}",
        "articles, one topic, page 2": f"/v1/articles?limit=50&topic={TOPIC}&cursor={topic_first['next_cursor']}",
        "articles, one ticker": "/v1/articles?limit=50&ticker=T42",
        "articles, negative in one topic": f"/v1/articles?limit=50&topic={TOPIC}&sentiment=negative",
        "articles, full-text search": "/v1/articles?limit=50&q=headline%20777777",
    }


def time_case(client: httpx.Client, path: str, n: int) -> list[float]:
    for _ in range(WARM_UP):
        assert client.get(path).status_code == 200, path
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.text[:300])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per case")
    args = parser.parse_args()
    with scratch_postgres() as url:
        migrate.upgrade(url)
        fill_s = fill(url, args.rows, args.days)
        engine = make_engine(url, pool_size=8)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load (visibility map)
        activate(engine, VERSION, now=END, by="bench")
        with engine.connect() as conn:
            enrichments = int(conn.execute(text("SELECT count(*) FROM enrichments")).scalar_one())
        token, entry = create_token("bench", ["read"])
        context = AppContext(settings=Settings(), tokens=TokenRegistry([entry]), engine=engine)
        results: dict[str, dict[str, float]] = {}
        with (
            ServerThread(create_analyst_app(context)) as server,
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
        ):
            for name, path in cases(client).items():
                ms = time_case(client, path, args.requests)
                results[name] = {"p50_ms": round(percentile(ms, 0.5), 1), "p95_ms": round(percentile(ms, 0.95), 1)}
        engine.dispose()
    print(json.dumps({"enrichments": enrichments, "days": args.days, "fill_seconds": round(fill_s, 1),
                      "requests_per_case": args.requests, "cases": results}))
    width = max(len(n) for n in results)
    print(f"{'case':<{width}}  p50 ms  p95 ms")
    for name, r in results.items():
        print(f"{name:<{width}}  {r['p50_ms']:>6}  {r['p95_ms']:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
