"""`finsent worker stream` as real processes: two workers share the partitions and together
notify each match once, one of them killed with SIGKILL mid-stream (nothing lost); SIGTERM stops a
worker cleanly and promptly every time, with records in flight (no hang at "Wait for streams")."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from alerts.local_receiver import LocalReceiver
from alerts.watchlists.model import WatchlistSpec
from alerts.watchlists.store import add_watchlist
from pipeline.config import Settings
from pipeline.db.models import WatchlistNotice, WebhookDelivery
from pipeline.kafka.broker import free_port
from schemas import utc_now
from tests.fixtures.kafka import KafkaTopics
from tests.fixtures.stream import (
    SECRET,
    committed_everything,
    enriched_records,
    health,
    produce,
    start_worker,
    store_articles,
    worker_env,
)
from tests.fixtures.waiting import WAIT_S, wait_until
from tests.fixtures.watchlists import enriched, mention

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real worker processes, each test over 20 s

SHUTDOWN_S = 10.0
"""FINSENT_STREAM_SHUTDOWN_S of the workers (`worker_env`): a clean stop takes less."""


class Feed:
    """Produces matching enriched items (stored articles first) in small batches from a thread."""

    def __init__(self, engine: Engine, bootstrap: str, topic: str, *, per_batch: int = 5, pause_s: float = 0.2):
        self.engine, self.bootstrap, self.topic = engine, bootstrap, topic
        self.per_batch, self.pause_s = per_batch, pause_s
        self.produced: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)

    def batch(self) -> None:
        start = len(self.produced)
        items = [
            enriched(f"feed-{n:06d}", published_at=utc_now(), entities=(mention("Apple", 0, ticker="AAPL"),))
            for n in range(start, start + self.per_batch)
        ]
        store_articles(self.engine, [(i, "Apple shares slide", "") for i in items])
        produce(self.bootstrap, self.topic, enriched_records(items))
        self.produced.extend(i.news_id for i in items)

    def _run(self) -> None:
        while not self._stop.wait(self.pause_s):
            self.batch()

    def __enter__(self) -> Feed:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(WAIT_S)


@pytest.fixture
def setup(pg_url: str, pg_engine: Engine, kafka_settings: Settings, kafka_topics: KafkaTopics) -> Settings:
    add_watchlist(pg_engine, WatchlistSpec(name="apple", owner="pm", tickers=("AAPL",)), now=utc_now())
    return kafka_settings.model_copy(update={"stream_group": kafka_topics.group("stream")})


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver(SECRET) as rx:
        yield rx


def _stop(proc: subprocess.Popen[str], log: Path) -> tuple[float, dict]:
    """SIGTERM; the seconds until it exited and its summary line."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=SHUTDOWN_S + 20)
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, log.read_text()[-3000:]
    return elapsed, json.loads(out.strip().splitlines()[-1])


def _ready(port: int, proc: subprocess.Popen[str], log: Path) -> dict:
    def up() -> dict | None:
        assert proc.poll() is None, log.read_text()[-3000:]
        status = health(port)
        return status if status and status["assigned"] else None

    return wait_until(up, f"worker on :{port} holds partitions")


def _exactly_once(engine: Engine, produced: list[str], receiver: LocalReceiver) -> Counter[str]:
    """Every produced item has one notice, queued, with one delivered webhook that arrived."""
    with engine.connect() as conn:
        notices = Counter(conn.scalars(select(WatchlistNotice.news_id).where(WatchlistNotice.status == "queued")))
        webhooks = set(conn.scalars(select(WebhookDelivery.webhook_id).where(WebhookDelivery.status == "delivered")))
        rows = conn.scalar(select(func.count()).select_from(WebhookDelivery))
    assert set(notices) == set(produced) and set(notices.values()) == {1}
    assert rows == len(produced) == len(webhooks)
    arrived = Counter(receiver.log.webhook_ids)
    assert set(arrived) == webhooks and receiver.log.rejected == []
    return arrived


def test_two_workers_share_partitions_and_lose_nothing_to_a_kill(
    setup: Settings, pg_url: str, pg_engine: Engine, receiver: LocalReceiver, tmp_path: Path
) -> None:
    settings, bootstrap = setup, setup.kafka_bootstrap or ""
    ports = free_port(), free_port()
    log = tmp_path / "workers.log"
    a, b = (start_worker(worker_env(settings, pg_url, receiver.url, tmp_path, p), log) for p in ports)
    try:
        _ready(ports[0], a, log)
        _ready(ports[1], b, log)
        feed = Feed(pg_engine, bootstrap, settings.topic_enriched)

        def shared() -> bool:  # after the second join's rebalance, each holds part of news.enriched
            held = [set((health(p) or {}).get("assigned", [])) for p in ports]
            return all(any(t.startswith(settings.topic_enriched) for t in h) for h in held) and not held[0] & held[1]

        wait_until(shared, "the two workers share news.enriched")
        with feed:
            wait_until(lambda: all((health(p) or {}).get("totals", {}).get("queued", 0) >= 3 for p in ports),
                       "both workers notify")
            a.send_signal(signal.SIGKILL)  # mid-stream: the feed keeps producing
            a.wait(WAIT_S)
            wait_until(lambda: len(feed.produced) >= 60, "60 items produced")
        wait_until(lambda: committed_everything(bootstrap, settings.stream_group, [settings.topic_enriched]),
                   "the survivor committed every record")
        wait_until(lambda: len(set(receiver.log.webhook_ids)) >= len(feed.produced), "every webhook arrived")
        _, summary = _stop(b, log)
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
    arrived = _exactly_once(pg_engine, feed.produced, receiver)
    repeated = {w: n for w, n in arrived.items() if n > 1}
    assert len(repeated) <= 1, repeated  # at most the webhook in flight at the kill, same webhook-id
    assert summary["clean_stop"] is True and summary["queued"] >= 1


def test_sigterm_stops_promptly_and_cleanly_every_time(
    setup: Settings, pg_url: str, pg_engine: Engine, receiver: LocalReceiver, tmp_path: Path
) -> None:
    settings, bootstrap = setup, setup.kafka_bootstrap or ""
    log = tmp_path / "worker.log"
    feed = Feed(pg_engine, bootstrap, settings.topic_enriched, per_batch=3, pause_s=0.1)
    stops = []
    with feed:
        for _ in range(2):  # each stop lands while records are flowing
            port = free_port()
            proc = start_worker(worker_env(settings, pg_url, receiver.url, tmp_path, port), log)
            try:
                seen = len(feed.produced)
                _ready(port, proc, log)
                wait_until(lambda p=port: (health(p) or {}).get("totals", {}).get("consumed", 0) > 0, "records flowing")
                assert len(feed.produced) > seen
                stops.append(_stop(proc, log))
            finally:
                if proc.poll() is None:
                    proc.kill()
    port = free_port()
    proc = start_worker(worker_env(settings, pg_url, receiver.url, tmp_path, port), log)
    try:
        wait_until(lambda: committed_everything(bootstrap, settings.stream_group, [settings.topic_enriched]),
                   "every record committed after the restarts")
        wait_until(lambda: len(set(receiver.log.webhook_ids)) >= len(feed.produced), "every webhook arrived")
        stops.append(_stop(proc, log))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(elapsed < SHUTDOWN_S and summary["clean_stop"] for elapsed, summary in stops), stops
    assert "did not stop" not in log.read_text()
    _exactly_once(pg_engine, feed.produced, receiver)
