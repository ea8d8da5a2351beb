"""Replay throughput: the embedded default (in process) vs the live path (Kafka + model worker).

    .venv/bin/python bench/replay_throughput.py [--items 5000] [--batch 64] [--model shipped|keyword]
        [--texts synthetic|headlines] [--forward padded unpadded] [--paths process-sqlite ...] [--threads 1]

One run, the same N stored articles and the same predictor, each replayed under a fresh model
version (so every item is scored and stored):

1. `process-sqlite`: the zero-config default: in process, SQLite under a temp data dir;
2. `process-postgres`: in process, Postgres (a scratch database, `BENCH_DATABASE_URL` names the server);
3. `kafka-postgres`: the live path: produced to the replay topic on the embedded Tansu broker,
   consumed by the model-worker logic in the run's own group, stored in Postgres (the ~3 s group
   join included).

`--model keyword` swaps the shipped model for the tests' keyword stand-in: what is left is the
replay machinery's own cost. `--texts headlines` replays real headlines (SEntFiN titles and
finance-news tweets, `bench/predict_batching.py`) instead of the synthetic articles; `--forward
padded unpadded` runs each path with the padded forward (as before issue 18) and the unpadded one
(the CPU default), same articles, side by side. Prints one JSON line per run and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_postgres  # noqa: E402
from bench.pipeline_throughput import synthetic_news  # noqa: E402
from bench.predict_batching import real_headlines  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.db import make_engine, store_articles, upgrade  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker  # noqa: E402
from pipeline.replay.checkpoint import run_id  # noqa: E402
from pipeline.replay.sources import StoredArticles  # noqa: E402
from pipeline.replay.versioned import with_version  # noqa: E402
from schemas import RawNews  # noqa: E402
from workers.replay import ReplayPlan, run_replay  # noqa: E402

PATHS = ("process-sqlite", "process-postgres", "kafka-postgres")


def load(model: str, forwards: list[str]) -> dict[str, object]:
    """One predictor per forward (`default`: the predictor's own choice); the keyword stand-in has none."""
    if model == "keyword":
        from tests.fixtures.fake_predictor import KeywordPredictor

        return {"keyword": KeywordPredictor("keyword-1")}
    from pipeline.model import Predictor
    from pipeline.model.checkpoint import load_model

    loaded = load_model(None)
    return {
        name: Predictor(loaded, device="cpu", unpadded_forward=None if name == "default" else name == "unpadded")
        for name in forwards
    }


def headline_news(n: int) -> list[RawNews]:
    """`n` real headlines as articles without a body, one second apart."""
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    return [
        RawNews(source="bench", url=f"https://example.com/bench/{i}", title=" ".join(title.split()),
                published_at=start + timedelta(seconds=i))  # type: ignore[call-arg]
        for i, title in enumerate(real_headlines(n))
    ]


def replay_once(label: str, url: str, data_dir: Path, predictor: object, news: list[RawNews], batch: int,
                bootstrap: str | None) -> dict[str, object]:
    upgrade(url)
    engine = make_engine(url)
    n = len(news)
    try:
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
    parser.add_argument("--texts", choices=("synthetic", "headlines"), default="synthetic")
    parser.add_argument("--forward", nargs="+", choices=("default", "padded", "unpadded"), default=["default"],
                        help="shipped model: the encoder forward(s) to run each path with, side by side")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    predictors = load(args.model, args.forward)
    news = headline_news(args.items) if args.texts == "headlines" else synthetic_news(args.items)
    results = []
    with tempfile.TemporaryDirectory(prefix="finsent-bench-replay-") as tmp:
        data = Path(tmp)
        for path in args.paths:
            for forward, predictor in predictors.items():
                label, where = f"{path}-{forward}", data / f"{path}-{forward}"
                if path == "process-sqlite":
                    sqlite_url = f"sqlite:///{where / 'finsent.db'}"
                    row = replay_once(label, sqlite_url, where, predictor, news, args.batch, None)
                elif path == "process-postgres":
                    with scratch_postgres() as url:
                        row = replay_once(label, url, where, predictor, news, args.batch, None)
                else:
                    with EmbeddedBroker() as broker, scratch_postgres() as url:
                        row = replay_once(label, url, where, predictor, news, args.batch, broker.bootstrap)
                results.append({**row, "path": path, "forward": forward})
                print(json.dumps({**results[-1], "model": getattr(predictor, "model_version", args.model),
                                  "batch": args.batch, "texts": args.texts, "threads": torch.get_num_threads()}))
    print(f"\n{'path':<18}{'forward':<10}{'items':>7}{'seconds':>10}{'docs/s':>10}")
    for row in results:
        print(f"{row['path']:<18}{row['forward']:<10}{row['items']:>7}{row['seconds']:>10}{row['docs_per_s']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
