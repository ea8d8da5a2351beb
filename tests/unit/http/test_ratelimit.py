"""Token buckets with an injected clock: burst, refill, the wait a refusal names, bounded keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import HTTPException

from pipeline.config import Settings
from workers.http.ratelimit import Rate, RateLimits, TokenBuckets, limit, retry_after


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_s=0.5, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)  # empty: one token every 2 s
    clock.now += 1.0
    assert buckets.take("a") == pytest.approx(1.0)  # refused takes consume nothing
    clock.now += 1.0
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, never beyond


def test_keys_are_bounded_and_a_forgotten_key_starts_full() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_s=0.001, burst=1), clock=clock, max_keys=100)
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    for n in range(1000):
        buckets.take(f"made-up-{n}")
    assert len(buckets) == 100
    assert buckets.take("a") == 0.0


def test_a_refusal_is_429_with_retry_after_in_whole_seconds() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_s=0.4, burst=1), clock=clock)
    assert retry_after(buckets, "k") is None
    with pytest.raises(HTTPException) as refused:
        limit(buckets, "k", "requests")
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "3"}  # 2.5 s, rounded up
    assert retry_after(None, "k") is None  # no limit configured


def test_limits_from_settings_and_zero_turns_one_off() -> None:
    limits = RateLimits.from_settings(
        Settings(rate_login_per_min=12, rate_token_per_s=5, rate_token_burst=50)
    )
    assert limits.login is not None and limits.login.rate == Rate(per_s=0.2, burst=12)
    assert limits.token is not None and limits.token.rate == Rate(per_s=5, burst=50)
    off = RateLimits.from_settings(Settings(rate_login_per_min=0, rate_token_per_s=0))
    assert off.login is None and off.token is None


def test_defaults_leave_room_for_the_dashboard_and_scripts() -> None:
    settings = Settings()
    assert (
        settings.rate_login_per_min >= 10
        and settings.rate_token_per_s >= 50
        and settings.rate_token_burst >= 500
    )
