"""Watchlist notice latency: `news.enriched` append -> outbox row -> webhook at a local receiver.

    .venv/bin/python bench/watchlist_latency.py [--watchlists 10000] [--rate 100] [--seconds 120]

One run on this machine: the embedded broker, a scratch Postgres database (BENCH_DATABASE_URL
names the server), 10,000 watchlists (seeded random: 1-5 tickers each from 20,000 watched
symbols, a third also an entity name, 20 topic watchlists with a strict condition; 60% want
negative news, 20% a score <= -0.3; 10% rate-limited), one `python -m workers.stream` process
(the real faust worker, dispatching its own outbox) and a receiver in this process that verifies
every signature. Enriched items (1-3 companies each from 100,000 symbols, so most are not watched;
30% negative) are stored as articles, then produced at `--rate` per second for `--seconds`.

Latency per notice: the record's timestamp (set when produced) to `webhook_deliveries.created_at`
(the outbox row, written in the notice's transaction), and to the receiver's arrival time. Prints
a table and one JSON line. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

from alerts.local_receiver import LocalReceiver  # noqa: E402
from alerts.watchlists.matcher import ArticleView, WatchIndex, scan  # noqa: E402
from alerts.watchlists.model import (  # noqa: E402
    QuietHours,
    RateLimit,
    SentimentCondition,
    Watchlist,
    WatchlistSpec,
)
from alerts.watchlists.store import add_watchlists  # noqa: E402
from bench.common import percentile, scratch_postgres  # noqa: E402
from pipeline.db import make_engine, upgrade  # noqa: E402
from pipeline.db.models import Article, WatchlistNotice, WebhookDelivery  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker, free_port  # noqa: E402
from pipeline.kafka.clients import ensure_topics, make_producer  # noqa: E402
from pipeline.model.labels import TOPIC_NAMES  # noqa: E402
from schemas import EnrichedNews, EntityMention, SentimentProbs, encode, utc_now  # noqa: E402
from workers.stream.demo import caught_up  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOPICS = ("bench.news.enriched", "bench.alerts.events", "bench.news.dlq")
GROUP = "bench-stream"
WATCHED = 20_000
UNIVERSE = 100_000


def symbol(i: int) -> str:
    return f"S{i:05d}"


def company(i: int) -> str:
    return f"Company {i:05d}"


def watchlists(n: int, rng: random.Random) -> list[WatchlistSpec]:
    out = []
    for i in range(n):
        ids = rng.sample(range(WATCHED), rng.randint(1, 5))
        roll = rng.random()
        condition = (
            SentimentCondition(labels=("negative",)) if roll < 0.6
            else SentimentCondition(max_score=-0.3) if roll < 0.8
            else SentimentCondition()
        )
        topic = i < len(TOPIC_NAMES)  # 20 topic watchlists, strict
        out.append(
            WatchlistSpec(
                name=f"bench-{i:05d}",
                owner=f"pm-{i % 500}",
                tickers=() if topic else tuple(symbol(j) for j in ids),
                entities=(company(ids[0]),) if not topic and rng.random() < 0.33 else (),
                topics=(TOPIC_NAMES[i],) if topic else (),
                condition=SentimentCondition(labels=("negative",), max_score=-0.8) if topic else condition,
                rate_limit=RateLimit(max_notices=20, per="1h") if rng.random() < 0.1 else None,
                quiet_hours=QuietHours(start=clock_time(3), end=clock_time(4)) if rng.random() < 0.05 else None,
            )
        )
    return out


def items(n: int, rng: random.Random, model_version: str) -> list[tuple[EnrichedNews, str]]:
    now = utc_now()
    out = []
    for i in range(n):
        names = rng.sample(range(UNIVERSE), rng.randint(1, 3))
        title = " and ".join(company(j) for j in names) + " in the news"
        entities, at = [], 0
        for j in names:
            text = company(j)
            entities.append(EntityMention(text=text, label="ORG", start=at, end=at + len(text), confidence=0.9,
                                          ticker=symbol(j)))
            at += len(text) + 5
        negative = rng.random() < 0.3
        p_neg = rng.uniform(0.55, 0.99) if negative else rng.uniform(0.0, 0.3)
        p_pos = rng.uniform(0.0, 1.0 - p_neg)
        label = max((("negative", p_neg), ("neutral", 1 - p_neg - p_pos), ("positive", p_pos)), key=lambda x: x[1])[0]
        item = EnrichedNews(
            news_id=f"bench{i:011d}", model_version=model_version, published_at=now,
            topic=TOPIC_NAMES[rng.randrange(len(TOPIC_NAMES))], topic_score=0.9, sentiment=label,  # type: ignore[arg-type]
            sentiment_probs=SentimentProbs(negative=p_neg, neutral=1 - p_neg - p_pos, positive=p_pos),
            sentiment_score=round(p_pos - p_neg, 6), entities=tuple(entities),
        )
        out.append((item, title))
    return out


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:  # noqa: S310
            return dict(json.loads(answer.read()))
    except OSError:
        return None


def item_seconds(port: int) -> float:
    """The worker's mean seconds to match and record one item (`finsent_stream_item_seconds`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310
        metrics = dict(
            line.rsplit(" ", 1) for line in answer.read().decode().splitlines() if line.startswith("finsent_stream_item_seconds_")
        )
    count = float(metrics.get("finsent_stream_item_seconds_count", 0))
    return float(metrics.get("finsent_stream_item_seconds_sum", 0)) / count if count else float("nan")


def wait(condition: object, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout_s:.0f}s")
        time.sleep(0.2)


def matcher_cost(specs: list[WatchlistSpec], batch: list[tuple[EnrichedNews, str]], n: int) -> dict[str, float]:
    """Mean microseconds per article: the index against a scan of every watchlist (same answers)."""
    now = utc_now()
    lists = [Watchlist(id=i + 1, revision=1, created_at=now, updated_at=now, **s.model_dump()) for i, s in enumerate(specs)]
    started = time.perf_counter()
    index = WatchIndex(lists)
    build_s = time.perf_counter() - started
    views = [ArticleView(item, len(title)) for item, title in batch[:n]]
    timings = {}
    for name, match in (("index", index.match), ("scan", lambda v: scan(lists, v))):
        started = time.perf_counter()
        answers = [match(v) for v in views]
        timings[name] = (time.perf_counter() - started) / len(views) * 1e6
        timings[name + "_matches"] = sum(len(a) for a in answers)
    assert timings["index_matches"] == timings["scan_matches"]
    return {"index_build_s": round(build_s, 3), "index_us": round(timings["index"], 1),
            "scan_us": round(timings["scan"], 1), "articles": len(views)}


def run(args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    n_items = args.rate * args.seconds
    with EmbeddedBroker() as broker, scratch_postgres() as url, LocalReceiver(SECRET) as receiver:
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        specs = watchlists(args.watchlists, rng)
        add_watchlists(engine, specs, now=utc_now())
        fill_s = time.perf_counter() - started
        batch = items(n_items, rng, "bench-model")
        matcher = matcher_cost(specs, batch, args.scan_articles)
        with engine.begin() as conn:
            conn.execute(insert(Article), [
                {"id": item.news_id, "source": "bench", "url": None, "title": title, "body": "",
                 "published_at": item.published_at, "language": "en", "tickers": [], "ingested_at": item.published_at}
                for item, title in batch
            ])
        ensure_topics(broker.bootstrap, TOPICS, partitions=4)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
        env.update(
            FINSENT_DATABASE_URL=url, FINSENT_KAFKA_BOOTSTRAP=broker.bootstrap, FINSENT_KAFKA_PARTITIONS="4",
            FINSENT_TOPIC_ENRICHED=TOPICS[0], FINSENT_TOPIC_ALERTS=TOPICS[1], FINSENT_TOPIC_DLQ=TOPICS[2],
            FINSENT_STREAM_GROUP=GROUP, FINSENT_WEBHOOK_URL=receiver.url, FINSENT_WEBHOOK_SECRET=SECRET,
            FINSENT_METRICS_PORT=str(port), FINSENT_LOG_LEVEL="WARNING",
        )
        with tempfile.TemporaryFile("w+") as log:
            worker = subprocess.Popen([sys.executable, "-m", "workers.stream"], env=env, stdout=log, stderr=log,
                                      cwd=Path(__file__).resolve().parents[1])
            try:
                launched = time.perf_counter()
                wait(lambda: (h := health(port)) is not None and h["assigned"] and h["watchlists"] == args.watchlists,
                     "the stream worker", 180)
                ready_s = time.perf_counter() - launched
                produced = produce(broker.bootstrap, batch, args.rate)
                wait(lambda: caught_up(broker.bootstrap, GROUP, [TOPICS[0]]), "the worker to catch up", 300)
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(WatchlistNotice.news_id, WebhookDelivery.webhook_id, WebhookDelivery.created_at)
                        .join(WebhookDelivery, WebhookDelivery.event_id == WatchlistNotice.notice_id)
                    ).all()
                wait(lambda: len({d.webhook_id for d in receiver.log.deliveries}) >= len(rows), "every webhook", 300)
                status = health(port) or {}
                per_item = item_seconds(port)
            finally:
                worker.terminate()
                worker.wait(60)
                log.seek(0)
                tail = log.read()[-2000:]
        with engine.connect() as conn:
            suppressed = conn.execute(
                select(WatchlistNotice.reason).where(WatchlistNotice.status == "suppressed")
            ).scalars().all()
        engine.dispose()
    if worker.returncode != 0:
        print(tail, file=sys.stderr)
    arrived = {}
    for d in receiver.log.deliveries:
        arrived.setdefault(d.webhook_id, d.received_at)
    to_outbox = [(created.timestamp() - produced[news_id]) for news_id, _, created in rows]
    to_receiver = [arrived[wid] - produced[news_id] for news_id, wid, _ in rows if wid in arrived]
    return {
        "watchlists": args.watchlists,
        "items": len(produced),
        "seconds": args.seconds,
        "notices_queued": len(rows),
        "notices_suppressed": len(suppressed),
        "webhooks_received": len(to_receiver),
        "rejected_signatures": len(receiver.log.rejected),
        "load_watchlists_s": round(fill_s, 2),
        "worker_ready_s": round(ready_s, 2),
        "outbox_p50_s": round(percentile(to_outbox, 0.5), 3),
        "outbox_p95_s": round(percentile(to_outbox, 0.95), 3),
        "outbox_max_s": round(max(to_outbox, default=float("nan")), 3),
        "receiver_p50_s": round(percentile(to_receiver, 0.5), 3),
        "receiver_p95_s": round(percentile(to_receiver, 0.95), 3),
        "receiver_max_s": round(max(to_receiver, default=float("nan")), 3),
        "worker_item_ms": round(per_item * 1000, 2),
        "matcher": matcher,
        "worker_exit": worker.returncode,
        "worker_totals": status.get("totals", {}),
    }


def produce(bootstrap: str, batch: list[tuple[EnrichedNews, str]], rate: int) -> dict[str, float]:
    """Send at `rate` per second (in 10 ms slices); the record timestamp (seconds) of each news id."""
    producer = make_producer(bootstrap, client_id="bench-producer")
    futures = []
    started = time.perf_counter()
    for i, (item, _) in enumerate(batch):
        due = started + i / rate
        if (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        futures.append((item.news_id, producer.send(TOPICS[0], key=item.news_id.encode(), value=encode(item))))
    producer.flush()
    stamps = {news_id: future.get(timeout=30).timestamp / 1000.0 for news_id, future in futures}
    producer.close()
    return stamps


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--watchlists", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100, help="enriched items per second")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scan-articles", type=int, default=50, help="articles for the index-vs-scan timing")
    args = parser.parse_args()
    result = run(args)
    print(f"{args.watchlists} watchlists, {result['items']} items at {args.rate}/s for {args.seconds} s "
          f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"notices queued {result['notices_queued']}, suppressed {result['notices_suppressed']}, "
          f"webhooks received {result['webhooks_received']} (bad signatures {result['rejected_signatures']})")
    print(f"{'latency from the news.enriched append':<40}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
    for name, key in (("to the outbox row", "outbox"), ("to the webhook at the receiver", "receiver")):
        print(f"{name:<40}{result[key + '_p50_s']:>9.3f}{result[key + '_p95_s']:>9.3f}{result[key + '_max_s']:>9.3f}")
    print(f"target: receiver p95 < 2 s -> {'met' if result['receiver_p95_s'] < 2.0 else 'NOT met'}")
    m = result["matcher"]
    print(f"matching one article among {args.watchlists} watchlists ({m['articles']} articles, same matches): "
          f"index {m['index_us']:.0f} us, brute-force scan {m['scan_us']:.0f} us "
          f"({m['scan_us'] / m['index_us']:.0f}x); index built in {m['index_build_s']:.2f} s")
    print(f"stream worker: {result['worker_item_ms']:.2f} ms per item (match + store), ready in "
          f"{result['worker_ready_s']:.1f} s with {args.watchlists} watchlists")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
