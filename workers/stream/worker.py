"""The stream worker's lifecycle: load the watchlists, start the faust app and the outbox sender,
refresh the index every `watchlist_refresh_s`, and stop within `stream_shutdown_s` when asked.

`StreamWorker.run(stop)` blocks in its own event loop until `stop` (a `threading.Event`) is set,
so the CLI sets it from SIGTERM/SIGINT and tests from another thread. Stopping: the agents stop
retrying, `app.stop()` is given `stream_shutdown_s` (it commits the offsets of acked records),
then the outbox sender and the producer are closed. If faust does not stop in time the worker
says so and returns anyway (`clean_stop` is False); nothing is lost, since unacked records are
not committed and notices are idempotent. The CLI adds a last guard that ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.receivers import Receiver
from alerts.watchlists.processor import WatchlistProcessor
from pipeline.config import Settings
from pipeline.kafka.clients import make_producer
from pipeline.kafka.dlq import DeadLetterPublisher
from pipeline.kafka.security import KafkaSecurity
from workers.stream.app import StreamApp
from workers.stream.dispatch import DispatchLoop
from workers.stream.handlers import ItemHandler
from workers.stream.metrics import StreamMetrics

log = logging.getLogger(__name__)

POLL_S = 0.2


class StreamWorker:
    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        engine: Engine,
        receivers: Mapping[str, Receiver],
        *,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.metrics = metrics or StreamMetrics.create()
        self.processor = WatchlistProcessor(
            engine,
            receivers,
            public_url=settings.public_url,
            refresh_s=settings.watchlist_refresh_s,
            model_version=settings.alerts_model_version,
        )
        self.dispatch: DispatchLoop | None = None
        if settings.stream_dispatch and receivers:
            policy = RetryPolicy(max_age_s=settings.webhook_max_age_s, lease_s=settings.webhook_lease_s)
            self.dispatch = DispatchLoop(
                Dispatcher(engine, receivers, policy=policy),
                self.metrics,
                interval_s=settings.alerts_dispatch_interval_s,
            )
        self.producer = make_producer(
            bootstrap,
            client_id=f"{settings.kafka_client_id}-stream",
            security=KafkaSecurity.from_settings(settings),
        )
        self.handler = ItemHandler(
            self.processor,
            DeadLetterPublisher(self.producer, settings.topic_dlq),
            self.metrics,
            on_queued=self.dispatch.wake if self.dispatch else lambda: None,
        )
        self.metrics.watchlists.set_function(lambda: len(self.processor.index))
        self.metrics.revision.set_function(lambda: self.processor.revision)
        self.stream: StreamApp | None = None
        self.started_at: float | None = None
        self.clean_stop = True
        self.last_error: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stream-item")

    def health(self) -> dict[str, Any]:
        assigned = self.stream.assignment() if self.stream is not None else []
        return {
            "ok": self.started_at is not None and self.last_error is None,
            "group": self.settings.stream_group,
            "assigned": assigned,
            "watchlists": len(self.processor.index),
            "revision": self.processor.revision,
            "model_version": self.processor.model_version,
            "last_error": self.last_error,
            "totals": self.totals(),
        }

    def totals(self) -> dict[str, int]:
        out = {k: 0 for k in ("consumed", "matched", "queued", "suppressed", "duplicates", "skipped", "dlq")}
        out.update(self.handler.totals)
        if self.dispatch is not None:
            out["delivered"], out["failed"] = self.dispatch.delivered, self.dispatch.failed
        return out

    def run(self, stop: threading.Event) -> dict[str, int]:
        """Process until `stop` is set; returns the totals."""
        quiet = logging.getLogger().getEffectiveLevel() > logging.DEBUG
        for name in ("faust", "mode"):
            logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.DEBUG)
        with tempfile.TemporaryDirectory(prefix="finsent-stream-") as datadir:
            try:
                asyncio.run(self._main(stop, Path(datadir)))
            finally:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self.producer.close(timeout=5)
        return self.totals()

    async def _main(self, stop: threading.Event, datadir: Path) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, lambda: self.processor.refresh(force=True))
        self.stream = StreamApp(
            self.settings,
            self.bootstrap,
            enriched=self.handler.enriched,
            alert=self.handler.alert,
            executor=self._executor,
            metrics=self.metrics,
            datadir=datadir,
        )
        if self.dispatch is not None:
            self.dispatch.start()
        await self.stream.app.start()
        self.started_at = time.monotonic()
        log.info(
            "stream worker in group %s: %d watchlists (revision %d), dispatching %s",
            self.settings.stream_group,
            len(self.processor.index),
            self.processor.revision,
            "here too" if self.dispatch else "elsewhere (FINSENT_STREAM_DISPATCH=false or no receivers)",
        )
        try:
            await self._wait(stop)
        finally:
            await self._stop()

    async def _wait(self, stop: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(POLL_S)
            try:
                await loop.run_in_executor(self._executor, self.processor.refresh)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep running on the index we have
                self.last_error = f"watchlist refresh: {type(exc).__name__}: {exc}"
                log.warning("could not refresh the watchlists: %s", self.last_error)

    async def _stop(self) -> None:
        assert self.stream is not None
        started = time.monotonic()
        budget = self.settings.stream_shutdown_s
        self.stream.stopping = True
        try:
            await asyncio.wait_for(self.stream.app.stop(), timeout=budget)
        except TimeoutError:
            self.clean_stop = False
            log.error("the faust app did not stop within %gs: leaving without it (nothing acked is lost)", budget)
        if self.dispatch is not None and not self.dispatch.stop(max(budget - (time.monotonic() - started), 1.0)):
            self.clean_stop = False
            log.error("the outbox sender is still sending: leaving it (its lease lets another send it)")
        log.info("stream worker stopped in %.1fs", time.monotonic() - started)
