"""Webhook delivery against a real local HTTP receiver that verifies signatures: outages, 429 with
Retry-After, 500, timeouts, max age, non-retryable 4xx. Clocks are injected, so the simulated
minutes of backoff take milliseconds.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from alerts.dispatcher import Dispatcher, RetryPolicy, delivery_counts, failed_deliveries
from alerts.local_receiver import LocalReceiver
from alerts.outbox import webhook_id
from alerts.receivers import Receiver
from pipeline.db.models import AlertEventRow, WebhookDelivery

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def enqueue(engine: Engine, clock: FakeClock, receiver: str, url: str, n: int = 1) -> list[str]:
    """Outbox rows as the engine writes them (one alert event each); returns their webhook ids."""
    ids = []
    with engine.begin() as conn:
        for i in range(n):
            event_id = str(uuid.uuid4())
            conn.execute(
                insert(AlertEventRow).values(
                    event_id=event_id,
                    fingerprint="f" * 32,
                    rule="negative-spike",
                    topic="Macro",
                    status="firing",
                    window_start=clock.now - timedelta(minutes=15),
                    window_end=clock.now,
                    figures={},
                    severity="warning",
                    labels={},
                    started_at=clock.now,
                    emitted_at=clock.now,
                )
            )
            wid = webhook_id(event_id, receiver)
            conn.execute(
                insert(WebhookDelivery).values(
                    webhook_id=wid,
                    event_id=event_id,
                    receiver=receiver,
                    url=url,
                    payload=f'{{"event_id":"{event_id}","n":{i}}}',
                    status="pending",
                    attempts=0,
                    next_attempt_at=clock.now,
                    created_at=clock.now,
                )
            )
            ids.append(wid)
    return ids


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver(SECRET) as rx:
        yield rx


def dispatcher_for(engine: Engine, url: str, clock: FakeClock, timeout_s: float = 5.0, **policy: float) -> Dispatcher:
    """A dispatcher with a generous receiver timeout (a loaded box never hits it by accident);
    the timeout test sets its own, against a receiver that holds the request far longer."""
    receivers = {"desk": Receiver(name="desk", url=url, secret=SecretStr(SECRET), timeout_s=timeout_s)}
    return Dispatcher(
        engine,
        receivers,
        clock=clock,
        rng=random.Random(7),
        policy=RetryPolicy(**{"base_s": 2.0, "cap_s": 60.0, "max_age_s": 3600.0, **policy}),
    )


def run_for(dispatcher: Dispatcher, clock: FakeClock, seconds: float, step: float = 5.0) -> None:
    end = clock.now + timedelta(seconds=seconds)
    while clock.now < end:
        dispatcher.run_once()
        clock.advance(step)


def test_receiver_down_for_ten_minutes_gets_everything_once_back(pg_engine: Engine, clock: FakeClock) -> None:
    probe = LocalReceiver(SECRET)
    port = probe.port
    probe._server.server_close()  # the port is now closed: connection refused
    url = f"http://127.0.0.1:{port}/hook"
    dispatcher = dispatcher_for(pg_engine, url, clock)
    sent = enqueue(pg_engine, clock, "desk", url, 3)
    run_for(dispatcher, clock, 300)
    sent += enqueue(pg_engine, clock, "desk", url, 2)  # alerts keep coming during the outage
    run_for(dispatcher, clock, 300)
    assert delivery_counts(pg_engine) == {"pending": 5, "delivered": 0, "failed": 0}
    with pg_engine.connect() as conn:
        attempts = conn.scalar(select(WebhookDelivery.attempts).where(WebhookDelivery.webhook_id == sent[0]))
    assert attempts is not None and 5 <= attempts <= 20  # backoff (cap 60 s), not one per 5 s round

    with LocalReceiver(SECRET, port=port) as rx:
        run_for(dispatcher, clock, 120)
        assert rx.log.webhook_ids == sent  # every alert, once each, in order
        assert rx.log.rejected == []
    dispatcher.close()
    assert delivery_counts(pg_engine) == {"pending": 0, "delivered": 5, "failed": 0}


def test_429_with_retry_after_then_delivered(
    pg_engine: Engine, clock: FakeClock, receiver: LocalReceiver
) -> None:
    receiver.mode, receiver.retry_after_s = "429", 40
    dispatcher = dispatcher_for(pg_engine, receiver.url, clock)
    (wid,) = enqueue(pg_engine, clock, "desk", receiver.url)
    assert dispatcher.run_once().retried == 1
    clock.advance(30)
    assert dispatcher.run_once().claimed == 0  # Retry-After: 40 s, although the backoff says ~2 s
    receiver.mode = "ok"
    clock.advance(11)
    assert dispatcher.run_once().delivered == 1
    assert receiver.log.attempts == [wid, wid] and receiver.log.webhook_ids == [wid]
    assert receiver.log.answered == [429, 204]


def test_500_then_timeout_then_delivered_with_the_same_webhook_id(
    pg_engine: Engine, clock: FakeClock, receiver: LocalReceiver
) -> None:
    dispatcher = dispatcher_for(pg_engine, receiver.url, clock, timeout_s=1.0)
    (wid,) = enqueue(pg_engine, clock, "desk", receiver.url)
    receiver.mode = "500"
    run_for(dispatcher, clock, 20, step=1.0)
    receiver.mode, receiver.slow_s = "slow", 10.0  # held 10 s: the client gives up after 1 s
    clock.advance(61)
    assert dispatcher.run_once().retried == 1
    with pg_engine.connect() as conn:
        error = conn.scalar(select(WebhookDelivery.last_error).where(WebhookDelivery.webhook_id == wid))
    assert error is not None and "Timeout" in error
    receiver.mode, receiver.slow_s = "ok", 0.0
    run_for(dispatcher, clock, 120, step=5.0)
    assert set(receiver.log.attempts) == {wid} and len(receiver.log.attempts) >= 4
    assert delivery_counts(pg_engine)["delivered"] == 1


def test_gives_up_after_max_age_and_failure_is_visible(
    pg_engine: Engine, clock: FakeClock, receiver: LocalReceiver
) -> None:
    receiver.mode = "500"
    dispatcher = dispatcher_for(pg_engine, receiver.url, clock, max_age_s=120.0)
    (wid,) = enqueue(pg_engine, clock, "desk", receiver.url)
    run_for(dispatcher, clock, 300)
    assert delivery_counts(pg_engine) == {"pending": 0, "delivered": 0, "failed": 1}
    (row,) = failed_deliveries(pg_engine)
    assert row["webhook_id"] == wid and row["last_status_code"] == 500
    assert "gave up after" in row["last_error"] and "max age 120s" in row["last_error"]


def test_wrong_secret_is_not_retried(pg_engine: Engine, clock: FakeClock, receiver: LocalReceiver) -> None:
    receivers = {"desk": Receiver(name="desk", url=receiver.url, secret=SecretStr("whsec_" + "B" * 32))}
    dispatcher = Dispatcher(pg_engine, receivers, clock=clock)
    enqueue(pg_engine, clock, "desk", receiver.url)
    assert dispatcher.run_once().failed == 1
    assert receiver.log.answered == [401] and receiver.log.rejected
    assert failed_deliveries(pg_engine)[0]["last_status_code"] == 401


def test_alerts_deliveries_lists_a_failed_delivery_with_why(
    pg_url: str, pg_engine: Engine, clock: FakeClock, receiver: LocalReceiver,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    receivers = {"desk": Receiver(name="desk", url=receiver.url, secret=SecretStr("whsec_" + "B" * 32))}
    dispatcher = Dispatcher(pg_engine, receivers, clock=clock)
    (wid,) = enqueue(pg_engine, clock, "desk", receiver.url)
    enqueue(pg_engine, clock, "elsewhere", receiver.url)  # a receiver nobody configured
    assert dispatcher.run_once().failed == 2
    dispatcher.close()
    monkeypatch.setenv("FINSENT_DATABASE_URL", pg_url)
    from workers import cli

    assert cli.main(["alerts", "deliveries"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"pending": 0, "delivered": 0, "failed": 2}
    by_receiver = {row["receiver"]: row for row in lines[1:]}
    assert by_receiver["desk"]["webhook_id"] == wid and by_receiver["desk"]["last_status_code"] == 401
    assert "not configured" in by_receiver["elsewhere"]["last_error"]
