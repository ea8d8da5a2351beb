"""The alerts worker process: at every tick of the `alerts_interval_s` grid, evaluate finally the
ticks whose allowed lateness has passed (event-time watermark, catch-up after downtime:
`alerts.watermark`) and early the tick just due (`alerts.early`: it fires what already holds);
dispatch the outbox every few seconds, and at once after a tick emitted events (APScheduler
background jobs, one instance each, missed runs coalesced), until stopped.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from kafka import KafkaProducer

from alerts.dispatcher import Dispatcher, delivery_counts
from alerts.engine import AlertEngine, TickResult
from alerts.metrics import AlertsMetrics
from alerts.watermark import Watermark
from pipeline.kafka.produce import CheckedSends
from schemas import AlertEvent, encode, utc_now

log = logging.getLogger(__name__)

TICK_OFFSET = timedelta(milliseconds=50)
"""How long after a tick's event time the evaluation job runs."""


def kafka_publisher(
    producer: KafkaProducer, topic: str, *, timeout_s: float = 10.0
) -> Callable[[Sequence[AlertEvent]], None]:
    """Publish AlertEvents keyed by fingerprint (one partition per alert keeps its order); raises
    `ProduceError` unless every event was acknowledged."""

    def publish(events: Sequence[AlertEvent]) -> None:
        sends = CheckedSends(producer)
        for event in events:
            sends.send(topic, key=event.fingerprint.encode(), value=encode(event))
        sends.wait(timeout_s)

    return publish


class AlertsWorker:
    def __init__(
        self,
        engine: AlertEngine,
        dispatcher: Dispatcher,
        *,
        interval_s: float = 4.0,
        dispatch_interval_s: float = 2.0,
        lateness_s: float = 60.0,
        max_catch_up_s: float = 86_400.0,
        metrics: AlertsMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self.dispatch_interval_s = dispatch_interval_s
        self.watermark = Watermark(
            timedelta(seconds=interval_s), timedelta(seconds=lateness_s), timedelta(seconds=max_catch_up_s)
        )
        self.metrics = metrics or AlertsMetrics.create()
        self.clock = clock
        self.stop = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        self.early_tick_at: datetime | None = None
        """The last tick evaluated early."""
        self.last_tick: TickResult | None = None
        self.last_tick_at: datetime | None = None
        self.last_error: str | None = None
        self.totals = {"evaluations": 0, "early_evaluations": 0, "caught_up": 0, "skipped": 0, "fired": 0,
                       "fired_early": 0, "resolved": 0, "delivered": 0, "failed": 0}

    def evaluate_once(self) -> list[TickResult]:
        """Evaluate every due tick in order (one, or the missed ones after downtime), each stored
        with its progress; stops early when the worker is asked to stop."""
        try:
            due = self.watermark.due(self.engine.store.last_tick(), self.clock())
        except Exception as exc:  # noqa: BLE001 - keep the schedule alive; report via health
            return self._failed(exc)
        if due.skipped:
            self.totals["skipped"] += due.skipped
            log.warning("skipping %d missed ticks older than the catch-up limit", due.skipped)
        if len(due.ticks) > 1:
            log.info("catching up %d ticks from %s", len(due.ticks), due.ticks[0].isoformat())
            self.totals["caught_up"] += len(due.ticks) - 1
        results = []
        for at in due.ticks:
            if self.stop.is_set():
                break
            started = time.perf_counter()
            try:
                result = self.engine.tick(at, record=True)
            except Exception as exc:  # noqa: BLE001
                return self._failed(exc)
            self.metrics.evaluation_seconds.observe(time.perf_counter() - started)
            self._count(result)
            results.append(result)
        return results

    def evaluate_early(self) -> TickResult | None:
        """The early evaluation of the tick just due, once per tick, unless it was evaluated
        finally already (no allowed lateness); None when there was nothing to evaluate."""
        if self.watermark.lateness <= timedelta(0):
            return None  # every tick is evaluated finally as soon as it is due
        try:
            at = self.watermark.current(self.clock())
            settled = self.engine.store.last_tick()
            if at == self.early_tick_at or (settled is not None and at <= settled):
                return None
            result = self.engine.early_tick(at, self.watermark.interval, settled)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return None
        self.early_tick_at = at
        self.totals["early_evaluations"] += 1
        self.totals["fired"] += len(result.firing)
        self.totals["fired_early"] += len(result.firing)
        self._log_events(result)
        return result

    def evaluate_due(self) -> None:
        """The scheduled job: final evaluations, then the early one; wakes the dispatcher when
        either emitted an event."""
        emitted = sum(len(r.events) for r in self.evaluate_once())
        early = self.evaluate_early()
        emitted += len(early.events) if early is not None else 0
        if emitted and self._scheduler is not None:
            # from another thread: `shutdown(wait=True)` holds the scheduler's job store lock while
            # it waits for this job, so modifying a job from here could deadlock a stopping worker
            threading.Thread(target=self._wake_dispatch, args=(self._scheduler,), daemon=True).start()

    @staticmethod
    def _wake_dispatch(scheduler: BackgroundScheduler) -> None:
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):  # stopping
            scheduler.modify_job("dispatch", next_run_time=utc_now())

    def _failed(self, exc: Exception) -> list[TickResult]:
        self.metrics.evaluation_errors.inc()
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.exception("alert evaluation failed")
        return []

    def _count(self, result: TickResult) -> None:
        self.metrics.evaluations.inc()
        self.metrics.silenced.inc(len(result.silenced))
        self._log_events(result)
        self.totals["evaluations"] += 1
        self.totals["fired"] += len(result.firing)
        self.totals["resolved"] += len(result.resolved)
        self.last_tick, self.last_tick_at, self.last_error = result, result.now, None

    def _log_events(self, result: TickResult) -> None:
        for emitted in result.events:
            self.metrics.events.labels(emitted.event.status).inc()
            log.info(
                "alert %s %s rule=%s topic=%s model_version=%s evaluation=%s",
                emitted.event.status,
                emitted.event.fingerprint,
                emitted.event.rule,
                emitted.event.topic,
                emitted.model_version,
                emitted.evaluation,
            )

    def dispatch_once(self) -> None:
        try:
            stats = self.dispatcher.run_once()
            for status, count in delivery_counts(self.dispatcher.engine).items():
                self.metrics.outbox.labels(status).set(count)
        except Exception:  # noqa: BLE001
            log.exception("webhook dispatch failed")
            return
        self.metrics.webhooks.labels("delivered").inc(stats.delivered)
        self.metrics.webhooks.labels("retried").inc(stats.retried)
        self.metrics.webhooks.labels("failed").inc(stats.failed)
        self.totals["delivered"] += stats.delivered
        self.totals["failed"] += stats.failed

    def health(self) -> dict[str, Any]:
        newest = self.watermark.newest(self.clock())
        stale = self.last_tick_at is None or (newest - self.last_tick_at).total_seconds() > 3 * self.interval_s
        return {
            "ok": self.last_error is None and not (stale and self.totals["evaluations"] > 0),
            "last_tick_at": self.last_tick_at,
            "model_version": self.last_tick.model_version if self.last_tick else None,
            "last_error": self.last_error,
            "totals": dict(self.totals),
        }

    def run(self, stop: threading.Event) -> dict[str, int]:
        """Run both jobs until `stop` is set; the running jobs finish before this returns."""
        self.stop = stop
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # a line per run
        scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler = scheduler
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(  # just after every tick of the grid (each run is the last one + interval)
            self.evaluate_due,
            "interval",
            seconds=self.interval_s,
            id="evaluate",
            next_run_time=self.watermark.next_tick(utc_now()) + TICK_OFFSET,
            **common,
        )
        scheduler.add_job(
            self.dispatch_once,
            "interval",
            seconds=self.dispatch_interval_s,
            id="dispatch",
            next_run_time=utc_now(),
            **common,
        )
        scheduler.start()
        log.info(
            "alerts worker: evaluating every %ss (allowed lateness %ss), dispatching every %ss",
            self.interval_s,
            self.watermark.lateness.total_seconds(),
            self.dispatch_interval_s,
        )
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            self._scheduler = None
            self.dispatcher.close()
        return dict(self.totals)
