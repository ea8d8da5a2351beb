"""Replay throughput: the embedded default (in process) vs the live path (Kafka + model worker).

    .venv/bin/python bench/replay_throughput.py [--items 5000] [--batch 64] [--model shipped|keyword]

One run, the same N stored articles and the same predictor, each replayed under a fresh model
version (so every item is scored and stored):

1. `process-sqlite`: the zero-config default: in process, SQLite under a temp data dir;
2. `process-postgres`: in process, Postgres (a scratch database, `BENCH_DATABASE_URL` names the server);
3. `kafka-postgres`: the live path: produced to the replay topic on the embedded Tansu broker,
   consumed by the model-worker logic in the run's own group, stored in Postgres (the ~3 s group
   join included).

`--model keyword` swaps the shipped model for the tests' keyword stand-in: what is left is the
replay machinery's own cost. Prints one JSON line per path and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_postgres  # noqa: E402
from bench.pipeline_throughput import synthetic_news  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.db import make_engine, store_articles, upgrade  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker  # noqa: E402
from pipeline.replay.checkpoint import run_id  # noqa: E402
from pipeline.replay.sources import StoredArticles  # noqa: E402
from pipeline.replay.versioned import with_version  # noqa: E402
from workers.replay import ReplayPlan, run_replay  # noqa: E402


def load(model: str) -> object:
    if model == "keyword":
        from tests.fixtures.fake_predictor import KeywordPredictor

        return KeywordPredictor("keyword-1")
    from pipeline.model import load_predictor

    return load_predictor(path=None, device="cpu")


def replay_once(label: str, url: str, data_dir: Path, predictor: object, n: int, batch: int,
                bootstrap: str | None) -> dict[str, object]:
    upgrade(url)
    engine = make_engine(url)
    try:
        news = synthetic_news(n)
        for i in range(0, n, 2_000):
            store_articles(engine, news[i : i + 2_000])
        versioned = with_version(predictor, f"{predictor.model_version}+bench-{label}")  # type: ignore[attr-defined]
        args = {"bench": label, "model_version": versioned.model_version, "n": n}
        plan = ReplayPlan(
            source=StoredArticles(engine), run_id=run_id(args), arguments=args,
            via="kafka" if bootstrap else "process", batch_size=batch, restart=True,
        )
        settings = Settings(data_dir=data_dir, kafka_partitions=4)
        started = time.perf_counter()
        summary = run_replay(plan, settings=settings, engine=engine, predictor=versioned, stop=threading.Event(),
                             bootstrap=bootstrap, progress=False)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    assert summary.enriched == n, summary.as_dict()
    return {"path": label, "items": n, "seconds": round(seconds, 2), "docs_per_s": round(n / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--model", choices=("shipped", "keyword"), default="shipped")
    args = parser.parse_args()
    predictor = load(args.model)
    results = []
    with tempfile.TemporaryDirectory(prefix="finsent-bench-replay-") as tmp:
        data = Path(tmp)
        sqlite_url = f"sqlite:///{data / 'embedded' / 'finsent.db'}"
        results.append(replay_once("process-sqlite", sqlite_url, data / "embedded", predictor, args.items,
                                   args.batch, None))
        with scratch_postgres() as url:
            results.append(replay_once("process-postgres", url, data / "pg", predictor, args.items, args.batch, None))
        with EmbeddedBroker() as broker, scratch_postgres() as url:
            results.append(replay_once("kafka-postgres", url, data / "kafka", predictor, args.items, args.batch,
                                       broker.bootstrap))
    for row in results:
        print(json.dumps({**row, "model": getattr(predictor, "model_version", args.model), "batch": args.batch}))
    print(f"\n{'path':<18}{'items':>7}{'seconds':>10}{'docs/s':>10}")
    for row in results:
        print(f"{row['path']:<18}{row['items']:>7}{row['seconds']:>10}{row['docs_per_s']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
