"""Alert latency: the last stored article of a burst -> the first webhook attempt at a receiver.

    .venv/bin/python bench/alert_latency.py [--bursts 10] [--topics 10]

One run on this machine with the default settings (`pipeline.config.Settings()`: the tick grid
`FINSENT_ALERTS_INTERVAL_S`, `FINSENT_ALERTS_ALLOWED_LATENESS_S`, the dispatch interval) and the
shipped rules (`alerts/default_rules.yaml`): a scratch Postgres database (BENCH_DATABASE_URL names
the server) holding a calm week per topic (one article every 10 minutes, 20% negative: the
baselines), the real `AlertsWorker` running its scheduler in a thread, and a local receiver in
this process that verifies every signature. No Kafka: the engine publishes nothing.

Each burst goes to a topic of its own: 7 negative headlines stored at once, then, 1-3 s later (a
random phase against the tick grid), the 8th, which completes `negative-spike` (8 articles in
15 minutes, half negative, z >= 3, `for: 2`). Latency is from the commit of that last article to
the arrival of the topic's firing webhook. Prints a table and one JSON line; the database is
dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from alerts.dispatcher import Dispatcher  # noqa: E402
from alerts.engine import AlertEngine  # noqa: E402
from alerts.local_receiver import LocalReceiver  # noqa: E402
from alerts.receivers import Receiver  # noqa: E402
from alerts.rules import DEFAULT_RULES_PATH, load_rules  # noqa: E402
from alerts.state_store import SqlStateStore  # noqa: E402
from bench.common import percentile, scratch_postgres  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.db import make_engine, store_batch, upgrade  # noqa: E402
from pipeline.model.labels import TOPIC_NAMES  # noqa: E402
from schemas import EnrichedNews, RawNews, SentimentProbs, sentiment_score, utc_now  # noqa: E402
from workers.alerts_worker import AlertsWorker  # noqa: E402

VERSION = "bench-model"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PROBS = {
    "negative": SentimentProbs(negative=0.8, neutral=0.15, positive=0.05),
    "neutral": SentimentProbs(negative=0.1, neutral=0.8, positive=0.1),
}


def article(topic: str, at: datetime, negative: bool, tag: str) -> tuple[RawNews, EnrichedNews]:
    raw = RawNews(source="bench", url=f"https://news.example.com/{tag}", title=f"{topic} story {tag}",
                  published_at=at, ingested_at=at)
    sentiment = "negative" if negative else "neutral"
    probs = PROBS[sentiment]
    enriched = EnrichedNews(
        news_id=raw.id, model_version=VERSION, published_at=at, topic=topic, topic_score=0.9,
        sentiment=sentiment, sentiment_probs=probs, sentiment_score=sentiment_score(probs),
        processed_at=at,
    )
    return raw, enriched


def store(db: object, items: list[tuple[RawNews, EnrichedNews]]) -> None:
    store_batch(db, [r for r, _ in items], [e for _, e in items])  # type: ignore[arg-type]


def calm_week(db: object, topics: list[str], now: datetime) -> int:
    items = []
    for t, topic in enumerate(topics):
        at = now - timedelta(days=7, hours=1) + timedelta(seconds=37 * t)
        n = 0
        while at < now - timedelta(minutes=20):
            items.append(article(topic, at, n % 5 == 0, f"calm-{t}-{n}"))
            at += timedelta(minutes=10)
            n += 1
    for start in range(0, len(items), 2000):
        store(db, items[start : start + 2000])
    return len(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    topics = list(TOPIC_NAMES)[: args.bursts]
    if len(topics) < args.bursts:
        parser.error(f"at most {len(TOPIC_NAMES)} bursts (one topic each)")
    latencies: list[float] = []
    after_tick: list[float] = []
    with scratch_postgres() as url, LocalReceiver(SECRET) as receiver:
        upgrade(url)
        db = make_engine(url)
        seeded = calm_week(db, topics, utc_now())
        receivers = {"default": Receiver(name="default", url=receiver.url, secret=SecretStr(SECRET))}
        engine = AlertEngine(db, load_rules(DEFAULT_RULES_PATH), SqlStateStore(db, receivers),
                             receivers=sorted(receivers), model_version=VERSION)
        worker = AlertsWorker(
            engine, Dispatcher(db, receivers), interval_s=settings.alerts_interval_s,
            dispatch_interval_s=settings.alerts_dispatch_interval_s, lateness_s=settings.alerts_allowed_lateness_s,
        )
        stop = threading.Event()
        runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        runner.start()
        time.sleep(2 * settings.alerts_interval_s)  # the first ticks (cold baselines) are behind us
        try:
            for b, topic in enumerate(topics):
                now = utc_now()
                store(db, [article(topic, now - timedelta(seconds=7 - k), True, f"burst-{b}-{k}") for k in range(7)])
                time.sleep(rng.uniform(1.0, 3.0))
                store(db, [article(topic, utc_now(), True, f"burst-{b}-7")])
                stored = time.time()
                arrived, tick = wait_for_firing(receiver, topic, timeout_s=settings.alerts_allowed_lateness_s * 2 + 30)
                latencies.append(arrived - stored)
                after_tick.append(arrived - tick)
                print(f"burst {b + 1:2d} ({topic}): {arrived - stored:6.2f} s ({arrived - tick:5.2f} s after "
                      "the firing tick's event time)", flush=True)
        finally:
            stop.set()
            runner.join(timeout=30)
            db.dispose()
    summary = {
        "bursts": len(latencies),
        "interval_s": settings.alerts_interval_s,
        "allowed_lateness_s": settings.alerts_allowed_lateness_s,
        "dispatch_interval_s": settings.alerts_dispatch_interval_s,
        "calm_articles": seeded,
        "p50_s": round(percentile(latencies, 0.5), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
        "max_s": round(max(latencies), 2),
        "after_tick_p50_s": round(percentile(after_tick, 0.5), 2),
        "after_tick_p95_s": round(percentile(after_tick, 0.95), 2),
        "early": worker.totals["fired_early"],
        "final": worker.totals["fired"],
    }
    print(f"\n| bursts | p50 s | p95 s | max s |\n|---|---|---|---|\n"
          f"| {summary['bursts']} | {summary['p50_s']} | {summary['p95_s']} | {summary['max_s']} |")
    print(json.dumps(summary))
    return 0


def wait_for_firing(receiver: LocalReceiver, topic: str, timeout_s: float) -> tuple[float, float]:
    """When the first firing webhook of `topic` arrived and its tick (seconds since the epoch)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for d in list(receiver.log.deliveries):
            body = d.json
            if body.get("topic") == topic and body.get("status") == "firing":
                return d.received_at, datetime.fromisoformat(body["emitted_at"]).timestamp()
        time.sleep(0.02)
    raise TimeoutError(f"no firing webhook for {topic} within {timeout_s:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
