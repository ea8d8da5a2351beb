"""Alerts under faults, with real Postgres, the real broker and real local HTTP receivers:
`finsent worker alerts` killed with SIGKILL mid-batch and restarted, two dispatchers at once, a
dispatcher whose lease ran out, missed ticks caught up after downtime. Each: nothing lost, no
duplicate row, no duplicate delivery beyond the documented at-least-once retry (same webhook-id).
Figures go to RELIABILITY.md."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, insert, select

from alerts.dispatcher import AttemptResult, Dispatcher, RetryPolicy, delivery_counts
from alerts.engine import AlertEngine
from alerts.local_receiver import LocalReceiver
from alerts.outbox import webhook_id
from alerts.receivers import Receiver
from alerts.rules import DEFAULT_RULES_PATH, load_rules
from alerts.state_store import SqlStateStore
from alerts.stats import floor_time
from pipeline.config import Settings
from pipeline.db import store_batch
from pipeline.db.models import AlertEventRow, AlertProgress, WebhookDelivery
from schemas import utc_now
from tests.fixtures.alerts_data import MODEL_VERSION, stream
from tests.fixtures.waiting import wait_until
from workers.alerts_worker import AlertsWorker

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROOT = Path(__file__).resolve().parents[2]


def enqueue(engine: Engine, receiver: str, url: str, n: int, now: datetime) -> list[str]:
    """`n` outbox rows as the engine writes them (one alert event each); their webhook ids."""
    ids = []
    with engine.begin() as conn:
        for i in range(n):
            event_id = str(uuid.uuid4())
            conn.execute(insert(AlertEventRow).values(
                event_id=event_id, fingerprint="f" * 32, rule="negative-spike", topic="Macro", status="firing",
                window_start=now - timedelta(minutes=15), window_end=now, figures={}, severity="warning",
                labels={}, started_at=now, emitted_at=now, published_at=now,
            ))
            wid = webhook_id(event_id, receiver)
            conn.execute(insert(WebhookDelivery).values(
                webhook_id=wid, event_id=event_id, receiver=receiver, url=url, payload=f'{{"n":{i}}}',
                status="pending", attempts=0, next_attempt_at=now, created_at=now,
            ))
            ids.append(wid)
    return ids


# --- two dispatchers ------------------------------------------------------------------------------


def test_two_dispatchers_at_once_send_every_webhook_exactly_once(pg_engine: Engine) -> None:
    with LocalReceiver(SECRET) as desk, LocalReceiver(SECRET) as chat:
        desk.mode = chat.mode = "slow"
        desk.slow_s = chat.slow_s = 0.02
        receivers = {
            name: Receiver(name=name, url=rx.url, secret=SecretStr(SECRET), timeout_s=5.0)
            for name, rx in (("desk", desk), ("chat", chat))
        }
        ids = enqueue(pg_engine, "desk", desk.url, 30, utc_now()) + enqueue(pg_engine, "chat", chat.url, 30, utc_now())
        stop = threading.Event()
        dispatchers = [Dispatcher(pg_engine, receivers, batch_size=7, policy=RetryPolicy(lease_s=30.0))
                       for _ in range(2)]
        errors: list[BaseException] = []

        def loop(d: Dispatcher) -> None:
            try:
                while not stop.is_set():
                    if d.run_once().claimed == 0:
                        stop.wait(0.05)
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=loop, args=(d,), daemon=True) for d in dispatchers]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: delivery_counts(pg_engine)["delivered"] == 60 or errors, "60 deliveries")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
            for d in dispatchers:
                d.close()
        assert errors == []
        received = desk.log.webhook_ids + chat.log.webhook_ids
    assert Counter(received) == Counter(ids)  # every webhook once: 0 lost, 0 duplicate
    assert desk.log.webhook_ids == ids[:30] and chat.log.webhook_ids == ids[30:]  # in order per receiver
    with pg_engine.connect() as conn:
        assert conn.scalar(select(func.max(WebhookDelivery.attempts))) == 1


def test_a_dispatcher_whose_lease_ran_out_neither_sends_nor_records(pg_engine: Engine) -> None:
    t0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock_a, clock_b = [t0], [t0 + timedelta(seconds=5)]
    with LocalReceiver(SECRET) as rx:
        receivers = {"desk": Receiver(name="desk", url=rx.url, secret=SecretStr(SECRET), timeout_s=1.0)}
        policy = RetryPolicy(lease_s=10.0)
        a = Dispatcher(pg_engine, receivers, policy=policy, clock=lambda: clock_a[0])
        b = Dispatcher(pg_engine, receivers, policy=policy, clock=lambda: clock_b[0])
        ids = enqueue(pg_engine, "desk", rx.url, 3, t0)
        claimed_by_a = a._claim()  # A holds all three until t0 + 10 s ...
        assert [r.webhook_id for r in claimed_by_a] == ids
        assert b._claim() == []  # B sees nothing while A's lease holds
        clock_b[0] = t0 + timedelta(seconds=11)  # ... then A stalls past its lease and B claims them
        assert b.run_once().delivered == 3
        assert not a._renew(claimed_by_a[0])  # A's token was replaced: it does not send
        late = a._record(claimed_by_a[1], AttemptResult(False, True, 500, "HTTP 500"))
        assert late == "lost"  # nor does it overwrite B's result
        a.close()
        b.close()
        assert rx.log.webhook_ids == ids
    assert delivery_counts(pg_engine) == {"pending": 0, "delivered": 3, "failed": 0}


def test_claimed_rows_are_invisible_to_another_dispatcher_while_leased(pg_engine: Engine) -> None:
    t0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    receivers = {"desk": Receiver(name="desk", url="http://127.0.0.1:9/hook", secret=SecretStr(SECRET), timeout_s=1.0)}
    a = Dispatcher(pg_engine, receivers, policy=RetryPolicy(lease_s=10.0), clock=lambda: t0)
    b = Dispatcher(pg_engine, receivers, policy=RetryPolicy(lease_s=10.0), clock=lambda: t0 + timedelta(seconds=9))
    enqueue(pg_engine, "desk", "http://127.0.0.1:9/hook", 2, t0)
    assert len(a._claim()) == 2 and b._claim() == []
    a.close()
    b.close()


# --- catch-up -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_missed_ticks_are_caught_up_after_downtime(pg_engine: Engine) -> None:
    """The worker stopped at 11:00 and comes back at 12:30: the burst at 12:00 still fires, at its
    own event time, and ticks are evaluated in order from where it stopped."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    burst = start + timedelta(days=1, hours=12)
    raws, enriched = stream(("Earnings", "Macro"), start, burst + timedelta(hours=1), burst_topic="Earnings",
                            burst_start=burst, burst_end=burst + timedelta(minutes=30))
    store_batch(pg_engine, raws, enriched)
    wall = [burst - timedelta(hours=1)]
    store = SqlStateStore(pg_engine, {})
    engine = AlertEngine(pg_engine, load_rules(DEFAULT_RULES_PATH), store, model_version=MODEL_VERSION)
    receivers = {"desk": Receiver(name="desk", url="http://127.0.0.1:9/hook", secret=SecretStr(SECRET))}
    worker = AlertsWorker(engine, Dispatcher(pg_engine, receivers), interval_s=60, lateness_s=30,
                          max_catch_up_s=6 * 3600, clock=lambda: wall[0])
    assert [r.now for r in worker.evaluate_once()] == [burst - timedelta(hours=1, minutes=1)]
    wall[0] = burst + timedelta(minutes=30, seconds=45)  # down for 90 minutes
    results = worker.evaluate_once()
    assert [r.now for r in results] == [burst - timedelta(hours=1) + timedelta(minutes=k) for k in range(91)]
    fired = [e for r in results for e in r.events if e.event.status == "firing"]
    assert [(e.event.rule, e.event.topic) for e in fired] == [("negative-spike", "Earnings")]
    assert burst < fired[0].event.emitted_at < burst + timedelta(minutes=30)
    assert store.last_tick() == burst + timedelta(minutes=30)
    assert worker.evaluate_once() == []  # nothing new is due
    worker.dispatcher.close()


# --- the worker process, killed -------------------------------------------------------------------


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "worker", "alerts"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log.open("a"), text=True,
    )


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver(SECRET) as rx:
        yield rx


@pytest.mark.slow
def test_worker_killed_mid_batch_then_restarted_loses_and_repeats_nothing(
    pg_url: str, pg_engine: Engine, kafka_settings: Settings, receiver: LocalReceiver, tmp_path: Path
) -> None:
    """`finsent worker alerts` as a real process: SIGKILL while it sends a batch of webhooks to a
    slow receiver, restart, SIGTERM. Every webhook arrives; the one in flight at the kill may
    arrive twice, under the same webhook-id; the live alert fires once."""
    now = utc_now()
    raws, enriched = stream(("Earnings", "Macro", "IPO"), now - timedelta(hours=12), now, burst_topic="Earnings",
                            burst_start=now - timedelta(minutes=20), burst_end=now + timedelta(minutes=1))
    store_batch(pg_engine, raws, enriched)
    queued = enqueue(pg_engine, "default", receiver.url, 12, now)
    receiver.mode, receiver.slow_s = "slow", 0.4
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env.update(
        FINSENT_DATABASE_URL=pg_url, FINSENT_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap or "",
        FINSENT_TOPIC_ALERTS=kafka_settings.topic_alerts, FINSENT_DATA_DIR=str(tmp_path),
        FINSENT_WEBHOOK_URL=receiver.url, FINSENT_WEBHOOK_SECRET=SECRET, FINSENT_WEBHOOK_TIMEOUT_S="2",
        FINSENT_WEBHOOK_LEASE_S="8", FINSENT_ALERTS_INTERVAL_S="1", FINSENT_ALERTS_DISPATCH_INTERVAL_S="0.2",
        FINSENT_ALERTS_ALLOWED_LATENESS_S="0", FINSENT_ALERTS_MODEL_VERSION=MODEL_VERSION,
    )
    log = tmp_path / "worker.log"
    first = _start_worker(env, log)
    try:
        wait_until(lambda: len(receiver.log.attempts) >= 4 or first.poll() is not None, "4 webhooks sent")
        assert first.poll() is None, log.read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    attempts_at_kill = len(receiver.log.attempts)
    second = _start_worker(env, log)
    try:
        def all_sent() -> bool:
            counts = delivery_counts(pg_engine)
            return counts["pending"] == 0 and counts["delivered"] >= 13 or second.poll() is not None

        wait_until(all_sent, "every webhook delivered after the restart")
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, log.read_text()[-3000:]
    totals = json.loads(out.strip().splitlines()[-1])
    assert totals["evaluations"] >= 1 and totals["delivered"] >= 1

    delivered = Counter(receiver.log.webhook_ids)
    with pg_engine.connect() as conn:
        all_ids = set(conn.scalars(select(WebhookDelivery.webhook_id)))
        firing = conn.scalar(select(func.count()).where(AlertEventRow.status == "firing",
                                                        AlertEventRow.topic == "Earnings", AlertEventRow.backtest.is_(False),
                                                        AlertEventRow.rule == "negative-spike"))
        progress = conn.scalar(select(AlertProgress.last_tick_at))
    assert delivery_counts(pg_engine)["failed"] == 0
    assert set(queued) <= all_ids and set(delivered) == all_ids  # nothing lost
    repeated = {wid: n for wid, n in delivered.items() if n > 1}
    assert len(repeated) <= 1 and all(n == 2 for n in repeated.values()), repeated  # the one in flight
    assert firing == 1  # the live alert fired once across the kill and the restart
    assert progress is not None and progress >= floor_time(now, timedelta(seconds=1))
    assert attempts_at_kill >= 4 and receiver.log.rejected == []
    _record_figures(attempts_at_kill, delivered, repeated)


def _record_figures(attempts_at_kill: int, delivered: Counter[str], repeated: dict[str, int]) -> None:
    """Figures for RELIABILITY.md, printed (pytest -s shows them)."""
    print(json.dumps({"kill9": {"attempts_at_kill": attempts_at_kill, "webhooks": len(delivered),
                                "deliveries": sum(delivered.values()), "repeated_ids": len(repeated)}}))

