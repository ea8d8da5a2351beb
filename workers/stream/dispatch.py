"""The stream worker's outbox sender: a thread that runs `Dispatcher` rounds as soon as notices
are queued (`wake()`), and every `interval_s` for retries that come due.

It shares the outbox with the alerts worker's dispatcher and with other stream workers: leases
and the claim lock (`alerts.dispatcher`) keep any two from sending one webhook at the same time.
Every process that dispatches must know the same receivers (a row for a receiver a dispatcher
does not know is marked failed by it).
"""

from __future__ import annotations

import logging
import threading

from alerts.dispatcher import Dispatcher
from workers.stream.metrics import StreamMetrics

log = logging.getLogger(__name__)

MAX_ROUNDS = 50
"""Rounds per wake-up before waiting again (a round sends up to the dispatcher's batch size)."""


class DispatchLoop:
    def __init__(self, dispatcher: Dispatcher, metrics: StreamMetrics, *, interval_s: float = 2.0) -> None:
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.interval_s = interval_s
        self.delivered = 0
        self.failed = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-dispatch", daemon=True)

    def start(self) -> DispatchLoop:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float) -> bool:
        """Ask the loop to stop after its current send; False if it is still busy after `timeout_s`."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        if not alive:
            self.dispatcher.close()
        return not alive

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            for _ in range(MAX_ROUNDS):
                if self._stop.is_set() or not self._round():
                    break

    def _round(self) -> bool:
        """One dispatcher round; True when it claimed something (another round may find more)."""
        try:
            stats = self.dispatcher.run_once()
        except Exception:  # noqa: BLE001 - keep sending; the next round retries
            log.exception("webhook dispatch failed")
            return False
        self.metrics.webhooks.labels("delivered").inc(stats.delivered)
        self.metrics.webhooks.labels("retried").inc(stats.retried)
        self.metrics.webhooks.labels("failed").inc(stats.failed)
        self.delivered += stats.delivered
        self.failed += stats.failed
        return stats.claimed > 0
