"""Backoff, Retry-After and outcome classification of the webhook dispatcher (pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.dispatcher import RetryPolicy, classify, next_attempt, parse_retry_after

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_s=2.0, cap_s=300.0, jitter=0.5)


def delay(attempts: int, **kw: object) -> float:
    return (next_attempt(attempts, NOW, POLICY, **kw) - NOW).total_seconds()  # type: ignore[arg-type]


def test_exponential_with_cap() -> None:
    assert round(delay(1, rand=0.999999), 3) == 2.0 and round(delay(4, rand=0.999999), 3) == 16.0
    assert round(delay(20, rand=0.999999), 2) == 300.0


@settings(deadline=None)
@given(st.integers(1, 30), st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_half_to_full_backoff(attempts: int, rand: float) -> None:
    backoff = min(POLICY.cap_s, POLICY.base_s * 2 ** (attempts - 1))
    assert backoff * 0.5 - 1e-9 <= delay(attempts, rand=rand) <= backoff + 1e-9


def test_retry_after_is_honoured() -> None:
    assert delay(1, rand=0.0, retry_after_s=120.0) == 120.0
    assert delay(8, rand=0.999, retry_after_s=1.0) > 100  # never sooner than the backoff either


def test_parse_retry_after() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after("Mon, 02 Mar 2026 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None


def test_classify() -> None:
    req = httpx.Request("POST", "http://x")
    assert classify(httpx.Response(204, request=req), None, NOW).delivered
    for code in (429, 500, 502, 503, 408):
        outcome = classify(httpx.Response(code, request=req, headers={"retry-after": "3"}), None, NOW)
        assert not outcome.delivered and outcome.retryable
    assert (
        classify(httpx.Response(429, request=req, headers={"retry-after": "3"}), None, NOW).retry_after_s
        == 3.0
    )
    for code in (400, 401, 404, 410):
        assert not classify(httpx.Response(code, request=req), None, NOW).retryable
    assert classify(None, httpx.ConnectError("refused"), NOW).retryable
    assert classify(None, httpx.ReadTimeout("slow"), NOW).retryable
