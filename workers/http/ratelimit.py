"""Token-bucket rate limits: sign-in attempts per client address, requests per token.

A bucket holds up to `burst` tokens and regains `per_s` of them a second; each request takes one,
or is answered 429 with `Retry-After` (whole seconds until one is back). Buckets are kept per key
(the client's address for `/login`, the principal's name for every scoped route) in an LRU of at
most `max_keys`: made-up keys cannot grow memory without bound, and a forgotten key starts full,
as it would be after a pause. The limits come from settings (`FINSENT_RATE_LOGIN_PER_MIN`,
`FINSENT_RATE_TOKEN_PER_S`, `FINSENT_RATE_TOKEN_BURST`; 0 turns one off) and live on the app
(`app.state.rate_limits`), so one serving process counts every request once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from pipeline.config import Settings

Clock = Callable[[], float]
MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Rate:
    per_s: float
    """Tokens regained a second (> 0)."""
    burst: float
    """Most tokens a bucket holds (>= 1): requests allowed at once after a pause."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key, thread-safe; `clock` is monotonic seconds (injected in tests)."""

    def __init__(self, rate: Rate, *, clock: Clock = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        if rate.per_s <= 0 or rate.burst < 1:
            raise ValueError(f"a rate needs per_s > 0 and burst >= 1, not {rate}")
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token of `key`'s bucket: 0.0 when there was one, else the seconds until there is."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(self.rate.burst, now)
            bucket.tokens = min(self.rate.burst, bucket.tokens + (now - bucket.at) * self.rate.per_s)
            bucket.at = now
            self._buckets[key] = bucket  # most recently used last
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate.per_s

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits of one app; None = no limit."""

    login: TokenBuckets | None = None
    token: TokenBuckets | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> RateLimits:
        login = settings.rate_login_per_min
        token = settings.rate_token_per_s
        return cls(
            login=TokenBuckets(Rate(login / 60.0, max(login, 1.0)), clock=clock) if login > 0 else None,
            token=TokenBuckets(Rate(token, settings.rate_token_burst), clock=clock) if token > 0 else None,
        )


def rate_limits(request: Request) -> RateLimits:
    """The limits of the app serving `request` (none when the app was built without them)."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    return limits or RateLimits()


def client_address(request: Request) -> str:
    """The client's address (the proxy's, unless the server trusts its forwarded headers)."""
    return request.client.host if request.client is not None else "unknown"


def retry_after(buckets: TokenBuckets | None, key: str) -> int | None:
    """Take a token of `key`'s bucket: None when there was one (or no limit), else `Retry-After` seconds."""
    if buckets is None:
        return None
    wait_s = buckets.take(key)
    return max(1, math.ceil(wait_s)) if wait_s > 0 else None


def limit(buckets: TokenBuckets | None, key: str, what: str) -> None:
    """Take a token of `key`'s bucket, or raise HTTPException 429 with `Retry-After`."""
    seconds = retry_after(buckets, key)
    if seconds is not None:
        raise HTTPException(
            status_code=429,
            detail=f"too many {what}: retry in {seconds}s",
            headers={"Retry-After": str(seconds)},
        )
