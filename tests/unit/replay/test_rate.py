"""The token bucket behind `--rate`, on an injected clock."""

from __future__ import annotations

import pytest

from pipeline.replay.rate import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_no_rate_never_waits() -> None:
    t = FakeTime()
    bucket = TokenBucket(None, clock=t.clock, sleep=t.sleep)
    assert all(bucket.acquire(1000) == 0 for _ in range(5))
    assert t.sleeps == []


def test_steady_rate_over_many_batches() -> None:
    t = FakeTime()
    bucket = TokenBucket(50, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(100):
        bucket.acquire(10)  # 1,000 docs at 50/s: ~20 s minus the first second's burst
    assert t.now - start == pytest.approx(1000 / 50 - 1, abs=1e-6)


def test_burst_then_wait() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(10) == 0  # the first second's worth is there
    assert bucket.acquire(5) == pytest.approx(0.5)
    t.now += 10  # idle time refills only up to the burst
    assert bucket.acquire(10) == 0
    assert bucket.acquire(1) == pytest.approx(0.1)


def test_a_stop_ends_the_wait() -> None:
    t = FakeTime()
    bucket = TokenBucket(1, clock=t.clock, sleep=lambda s: True)  # like Event.wait when stopped
    bucket.acquire(1)
    assert bucket.acquire(100) == 0
