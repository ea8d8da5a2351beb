"""The alerts worker's health: ok while ticks keep up with the watermark, stale once they stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from alerts.engine import TickResult
from workers.alerts_worker import AlertsWorker

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def worker(clock: Clock) -> AlertsWorker:
    return AlertsWorker(cast(Any, None), cast(Any, None), interval_s=30, lateness_s=0, clock=clock)


def test_a_worker_that_never_evaluated_is_not_reported_stale() -> None:
    assert worker(Clock()).health()["ok"]


def test_health_turns_stale_after_three_missed_intervals_and_recovers() -> None:
    clock = Clock()
    w = worker(clock)
    w._count(TickResult(now=START, model_version="m1"))
    assert w.health()["ok"] and w.health()["model_version"] == "m1"
    clock.now = START + timedelta(seconds=90)
    assert w.health()["ok"], "three intervals late is still within bounds"
    clock.now = START + timedelta(seconds=120)
    assert not w.health()["ok"]
    w._count(TickResult(now=w.watermark.newest(clock.now), model_version="m1"))
    assert w.health()["ok"] and w.health()["totals"]["evaluations"] == 2


def test_an_evaluation_error_is_reported_until_the_next_good_tick() -> None:
    clock = Clock()
    w = worker(clock)
    w._failed(RuntimeError("db down"))
    health = w.health()
    assert not health["ok"] and health["last_error"] == "RuntimeError: db down"
    w._count(TickResult(now=START, model_version="m1"))
    assert w.health()["ok"] and w.health()["last_error"] is None
