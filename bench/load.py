"""Load through the real path: HTTP push -> `finsent serve` -> Kafka -> `finsent worker model` -> Postgres.

    .venv/bin/python bench/load.py                      # capacity, 5 min at 2x, 2 min at 1/2
    .venv/bin/python bench/load.py --overload-s 60 --latency-s 30 --capacity 80

Real processes, as in production: the embedded broker, `finsent serve` and one `finsent worker model`
(default batch settings unless `--batch-max-ms` is given), a scratch Postgres database. Phases:

1. capacity: items pushed as fast as the API takes them (4 senders) for `--capacity-s` build a
   backlog; the model worker's capacity = rows stored per second while it drains the backlog
   alone (skipped with `--capacity`);
2. overload: items pushed at 2x capacity for `--overload-s`; every second the backlog
   (acknowledged - stored) and the RSS of each process are sampled; then the backlog must drain,
   and every acknowledged id must be stored exactly once (nothing lost);
3. latency: items pushed at 1/2 capacity for `--latency-s`; per item, from the moment its 202 came
   back to `articles.stored_at` (the database's clock, same machine): p50 / p95 / p99.

Prints one JSON object per phase and a summary. `run_load` is what the test suite runs, short.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, bindparam, func, select  # noqa: E402

from bench.common import EVENTS, SUBJECTS, percentile, scratch_postgres  # noqa: E402
from pipeline.db import Article, make_engine, upgrade  # noqa: E402
from pipeline.kafka.broker import EmbeddedBroker  # noqa: E402

PUSH_BATCH = 25
"""Items per POST: a small batch, as a feed relay would send."""
SENDERS = 4
"""Concurrent senders (threads), so the push rate is not bounded by one connection's round trips."""
SAMPLE_S = 1.0


@dataclass
class Stack:
    """The running processes and how to reach them."""

    url: str
    engine: Engine
    processes: dict[str, psutil.Process]
    logs: Path

    def stored(self, run: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).where(Article.source == run)) or 0)


@dataclass
class Sender:
    """Pushes numbered items of one run at a rate; remembers when each id was acknowledged."""

    stack: Stack
    run: str
    first: int = 0
    """Items are numbered from here: runs of one stack use disjoint numbers, so ingest never calls an
    item of one run a (near-)duplicate of another's."""
    acked: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    refused: int = 0
    _numbers: Iterator[int] = field(init=False)

    def __post_init__(self) -> None:
        self._numbers = itertools.count(self.first)  # thread-safe: senders share it

    def item(self) -> dict[str, Any]:
        i = next(self._numbers)
        published = datetime(2026, 1, 5, 8, tzinfo=UTC) + timedelta(seconds=i)
        return {
            "title": f"{SUBJECTS[i % len(SUBJECTS)]} {EVENTS[(i // 3) % len(EVENTS)]} ({self.run} {i})",
            "body": f"{SUBJECTS[(i + 2) % len(SUBJECTS)]} said on Monday that results would follow.",
            "url": f"https://example.com/{self.run}/{i}",
            "published_at": published.isoformat(),
            "source": self.run,
        }

    def push(self, client: httpx.Client, n: int) -> None:
        """One POST of `n` items, retried until the server answered it (at-least-once, like a relay)."""
        batch = [self.item() for _ in range(n)]
        while True:
            try:
                response = client.post("/v1/news", json=batch, timeout=30)
            except httpx.TransportError:
                self.refused += 1
                time.sleep(0.2)
                continue
            if response.status_code == 503:
                self.refused += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            now = time.time()
            for answer in response.json()["items"]:
                if answer["status"] == "accepted":
                    self.acked.setdefault(answer["id"], now)
                elif answer.get("duplicate_of") == answer.get("id"):
                    self.acked.setdefault(answer["id"], now)  # our own retry of an item already taken
                else:
                    self.duplicates += 1
            return

    def at_rate(self, rate: float, seconds: float, on_tick: Any = None, senders: int = 4) -> None:
        """Push `rate` items per second for `seconds` from `senders` threads (each paced per batch,
        catching up when behind); `on_tick()` every `SAMPLE_S` on the calling thread."""
        started = time.monotonic()

        def send(share: float) -> None:
            sent = 0
            with httpx.Client(base_url=self.stack.url) as client:
                while (elapsed := time.monotonic() - started) < seconds:
                    if sent < share * elapsed + PUSH_BATCH:
                        self.push(client, PUSH_BATCH)
                        sent += PUSH_BATCH
                    else:
                        time.sleep(min(0.05, PUSH_BATCH / share))

        threads = [threading.Thread(target=send, args=(rate / senders,), daemon=True) for _ in range(senders)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if on_tick is not None:
                on_tick()
            time.sleep(SAMPLE_S)
        for thread in threads:
            thread.join()


@dataclass
class Samples:
    backlog: list[int] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def take(self, stack: Stack, sender: Sender) -> None:
        self.backlog.append(len(sender.acked) - stack.stored(sender.run))
        for name, proc in stack.processes.items():
            try:
                rss = sum(p.memory_info().rss for p in (proc, *proc.children(recursive=True))) / 2**20
            except psutil.NoSuchProcess:
                continue
            self.peak_rss_mb[name] = round(max(self.peak_rss_mb.get(name, 0.0), rss), 1)


def _wait_for_line(path: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return text.strip().splitlines()[0]
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError(f"no output in {path} after {timeout_s}s")


@contextmanager
def running_stack(database_url: str, *, batch_max_ms: int | None = None) -> Iterator[Stack]:
    """Broker, `finsent serve` and `finsent worker model` as real processes on a migrated database."""
    upgrade(database_url)
    workdir = Path(tempfile.mkdtemp(prefix="finsent-load-"))
    with EmbeddedBroker() as broker:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")},
            "FINSENT_DATABASE_URL": database_url,
            "FINSENT_KAFKA_BOOTSTRAP": broker.bootstrap,
            "FINSENT_DATA_DIR": str(workdir),
            "FINSENT_LOG_JSON": "true",
        }
        if batch_max_ms is not None:
            env["FINSENT_BATCH_MAX_MS"] = str(batch_max_ms)
        python = [sys.executable, "-m", "workers.cli"]
        root = Path(__file__).resolve().parents[1]
        out = workdir / "serve.out"
        serve = subprocess.Popen(
            [*python, "serve", "--port", "0"], env=env, cwd=root, stdout=out.open("wb"),
            stderr=(workdir / "serve.log").open("wb"),
        )  # fmt: skip
        worker = subprocess.Popen(
            [*python, "worker", "model"], env=env, cwd=root, stdout=(workdir / "worker.out").open("wb"),
            stderr=(workdir / "worker.log").open("wb"),
        )  # fmt: skip
        engine = make_engine(database_url)
        try:
            url = json.loads(_wait_for_line(out, serve, 120))["serving"]
            assert broker.pid is not None
            processes = {
                "serve": psutil.Process(serve.pid),
                "worker": psutil.Process(worker.pid),
                "broker": psutil.Process(broker.pid),
            }
            yield Stack(url, engine, processes, workdir)
        finally:
            for proc in (serve, worker):
                proc.terminate()
            for proc in (serve, worker):
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            engine.dispose()


def wait_stored(stack: Stack, sender: Sender, timeout_s: float) -> float:
    """Seconds until every acknowledged item of the run is stored; raises after `timeout_s`."""
    started = time.monotonic()
    while stack.stored(sender.run) < len(sender.acked):
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{len(sender.acked) - stack.stored(sender.run)} items not stored after {timeout_s}s")
        time.sleep(0.25)
    return time.monotonic() - started


def stored_times(stack: Stack, ids: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    query = select(Article.id, Article.stored_at).where(Article.id.in_(bindparam("ids", expanding=True)))
    with stack.engine.connect() as conn:
        for start in range(0, len(ids), 1000):
            for news_id, stored_at in conn.execute(query, {"ids": ids[start : start + 1000]}):
                out[news_id] = stored_at.timestamp()
    return out


def measure_capacity(stack: Stack, seconds: float) -> dict[str, Any]:
    """The model worker's capacity: push as fast as the API takes items for `seconds` to build a
    backlog, then time the worker draining it alone (rows stored per second from the end of the
    push until 90 % of the backlog is stored)."""
    sender = Sender(stack, "capacity", first=0)
    sender.at_rate(10_000, seconds)
    pushed = len(sender.acked)
    t0, n0 = time.monotonic(), stack.stored("capacity")
    while (n := stack.stored("capacity")) < n0 + 0.9 * (pushed - n0):
        time.sleep(0.25)
    t1 = time.monotonic()
    drain_s = wait_stored(stack, sender, 900)
    return {
        "phase": "capacity",
        "pushed": pushed,
        "pushed_per_s": round(pushed / seconds, 1),
        "backlog_at_end_of_push": pushed - n0,
        "stored_per_s": round((n - n0) / (t1 - t0), 1),
        "drain_s": round(drain_s, 1),
    }


def overload(stack: Stack, rate: float, seconds: float, drain_timeout_s: float) -> dict[str, Any]:
    sender = Sender(stack, "overload", first=1_000_000)
    samples = Samples()
    sender.at_rate(rate, seconds, on_tick=lambda: samples.take(stack, sender))
    samples.take(stack, sender)
    backlog_at_end = samples.backlog[-1]
    drain_s = wait_stored(stack, sender, drain_timeout_s)
    samples.take(stack, sender)
    stored = stored_times(stack, list(sender.acked))
    return {
        "phase": "overload",
        "target_per_s": round(rate, 1),
        "pushed_per_s": round(len(sender.acked) / seconds, 1),
        "seconds": seconds,
        "acknowledged": len(sender.acked),
        "stored": len(stored),
        "lost": len(set(sender.acked) - set(stored)),
        "push_retries": sender.refused,
        "called_duplicate": sender.duplicates,
        "backlog_max": max(samples.backlog),
        "backlog_at_end_of_push": backlog_at_end,
        "drain_s": round(drain_s, 1),
        "peak_rss_mb": samples.peak_rss_mb,
    }


def latency(stack: Stack, rate: float, seconds: float, drain_timeout_s: float) -> dict[str, Any]:
    sender = Sender(stack, "latency", first=2_000_000)
    sender.at_rate(rate, seconds)
    wait_stored(stack, sender, drain_timeout_s)
    stored = stored_times(stack, list(sender.acked))
    waits = [stored[i] - t for i, t in sender.acked.items() if i in stored]
    return {
        "phase": "latency",
        "target_per_s": round(rate, 1),
        "seconds": seconds,
        "items": len(waits),
        "lost": len(sender.acked) - len(waits),
        "p50_s": round(percentile(waits, 0.50), 3),
        "p95_s": round(percentile(waits, 0.95), 3),
        "p99_s": round(percentile(waits, 0.99), 3),
    }


def run_load(
    database_url: str,
    *,
    capacity: float | None,
    capacity_s: float,
    overload_s: float,
    latency_s: float,
    batch_max_ms: int | None = None,
    drain_timeout_s: float = 900,
) -> list[dict[str, Any]]:
    """All three phases on one stack; one dict of figures per phase."""
    results: list[dict[str, Any]] = []
    with running_stack(database_url, batch_max_ms=batch_max_ms) as stack:
        if capacity is None:
            results.append(measure_capacity(stack, capacity_s))
            capacity = float(results[-1]["stored_per_s"])
        else:
            results.append({"phase": "capacity", "given_per_s": capacity})
        results.append(overload(stack, 2 * capacity, overload_s, drain_timeout_s))
        results.append(latency(stack, capacity / 2, latency_s, drain_timeout_s))
    return results


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack's processes on kill too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=float, default=None, help="items/s; default: measure it")
    parser.add_argument("--capacity-s", type=float, default=60, help="seconds of the capacity burst")
    parser.add_argument("--overload-s", type=float, default=300)
    parser.add_argument("--latency-s", type=float, default=120)
    parser.add_argument("--batch-max-ms", type=int, default=None, help="FINSENT_BATCH_MAX_MS (default: the setting's)")
    args = parser.parse_args()
    with scratch_postgres() as url:
        for result in run_load(
            url,
            capacity=args.capacity,
            capacity_s=args.capacity_s,
            overload_s=args.overload_s,
            latency_s=args.latency_s,
            batch_max_ms=args.batch_max_ms,
        ):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
