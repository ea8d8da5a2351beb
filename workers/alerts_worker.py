"""The alerts worker: evaluate the rules every `alerts_interval_s`, dispatch the outbox every few
seconds (APScheduler background jobs, one instance each, missed runs coalesced), until stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from kafka import KafkaProducer

from alerts.dispatcher import Dispatcher, delivery_counts
from alerts.engine import AlertEngine, TickResult
from alerts.metrics import AlertsMetrics
from alerts.stats import floor_time
from pipeline.kafka.produce import CheckedSends
from schemas import AlertEvent, encode, utc_now

log = logging.getLogger(__name__)


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
        interval_s: float = 30.0,
        dispatch_interval_s: float = 2.0,
        metrics: AlertsMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self.dispatch_interval_s = dispatch_interval_s
        self.metrics = metrics or AlertsMetrics.create()
        self.clock = clock
        self.last_tick: TickResult | None = None
        self.last_tick_at: datetime | None = None
        self.last_error: str | None = None
        self.totals = {"evaluations": 0, "fired": 0, "resolved": 0, "delivered": 0, "failed": 0}

    def evaluate_once(self) -> TickResult | None:
        """One tick at the clock floored to the interval (see `alerts.engine.tick_times`), so that a
        backtest at the same cadence evaluates at the same instants; a repeated instant is skipped."""
        now = floor_time(self.clock(), timedelta(seconds=self.interval_s))
        if self.last_tick_at is not None and now <= self.last_tick_at:
            return None
        started = time.perf_counter()
        try:
            result = self.engine.tick(now)
        except Exception as exc:  # noqa: BLE001 - keep the schedule alive; report via health
            self.metrics.evaluation_errors.inc()
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("alert evaluation failed")
            return None
        self.metrics.evaluation_seconds.observe(time.perf_counter() - started)
        self.metrics.evaluations.inc()
        self.metrics.silenced.inc(len(result.silenced))
        for emitted in result.events:
            self.metrics.events.labels(emitted.event.status).inc()
        self.totals["evaluations"] += 1
        self.totals["fired"] += len(result.firing)
        self.totals["resolved"] += len(result.resolved)
        self.last_tick, self.last_tick_at, self.last_error = result, result.now, None
        for emitted in result.events:
            log.info(
                "alert %s %s rule=%s topic=%s",
                emitted.event.status,
                emitted.event.fingerprint,
                emitted.event.rule,
                emitted.event.topic,
            )
        return result

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
        stale = (
            self.last_tick_at is None
            or (self.clock() - self.last_tick_at).total_seconds() > 3 * self.interval_s
        )
        return {
            "ok": self.last_error is None and not (stale and self.totals["evaluations"] > 0),
            "last_tick_at": self.last_tick_at,
            "model_version": self.last_tick.model_version if self.last_tick else None,
            "last_error": self.last_error,
            "totals": dict(self.totals),
        }

    def run(self, stop: threading.Event) -> dict[str, int]:
        """Run both jobs until `stop` is set; the running jobs finish before this returns."""
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # a line per run
        scheduler = BackgroundScheduler(timezone="UTC")
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        interval = timedelta(seconds=self.interval_s)
        scheduler.add_job(
            self.evaluate_once,
            "interval",
            seconds=self.interval_s,
            start_date=floor_time(utc_now(), interval),  # fire on the aligned instants
            id="evaluate",
            next_run_time=utc_now(),
            **common,
        )
        scheduler.add_job(
            self.dispatch_once,
            "interval",
            seconds=self.dispatch_interval_s,
            id="dispatch",
            next_run_time=datetime.now(tz=utc_now().tzinfo),
            **common,
        )
        scheduler.start()
        log.info(
            "alerts worker: evaluating every %ss, dispatching every %ss",
            self.interval_s,
            self.dispatch_interval_s,
        )
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            self.dispatcher.close()
        return dict(self.totals)
