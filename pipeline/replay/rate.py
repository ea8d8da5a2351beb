"""A token bucket for `--rate N` (documents per second), with an injectable clock and sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`acquire(n)` waits until `n` tokens are there; tokens refill at `rate` per second up to
    `burst` (default: one second's worth, at least 1). A rate of None or <= 0 never waits."""

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.burst = float(burst if burst is not None else max(self.rate or 1.0, 1.0))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock()
        assert self.rate is not None
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self, n: float = 1.0) -> float:
        """Take `n` tokens (a batch larger than the burst goes into debt and waits it off);
        returns the seconds waited. `sleep` returning True (e.g. `Event.wait`) stops the wait."""
        if self.rate is None or n <= 0:
            return 0.0
        self._refill()
        self._tokens -= n
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self.rate
        stopped = self._sleep(wait)
        self.waited_s += wait
        self._refill()
        return 0.0 if stopped is True else wait
