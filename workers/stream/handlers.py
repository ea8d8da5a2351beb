"""One record in, decided: decode (contract at the edge) -> match and record -> count.

Blocking code, run by the agents on a worker thread. Every record ends stored (its notices, or
nothing to notify), deduplicated (notices that exist already) or in the dead-letter topic with a
reason: an undecodable record at once (stage `decode`), a record whose processing keeps failing
for a reason other than an unreachable service after `MAX_ATTEMPTS` tries (stage `store`).
Unreachable services (database, broker) raise `Transient` errors: the agent retries the record
with backoff, without acking it, for as long as it takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kafka.errors import KafkaError
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError

from alerts.watchlists.processor import StepOutcome, WatchlistProcessor
from pipeline.kafka.dlq import DeadLetterPublisher, letter_from_exception, letter_from_failure
from schemas import AlertEvent, DeadLetter, DecodeFailure, EnrichedNews, decode
from workers.stream.metrics import StreamMetrics

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Tries at a record whose processing raises something other than a `TRANSIENT` error."""
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, KafkaError, TimeoutError)
"""Errors of an unreachable service: retried for as long as it takes, never dead-lettered."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None
    """Seconds since the epoch (the record's timestamp: when it was produced)."""


class ItemHandler:
    """Decides records of `news.enriched` and `alerts.events`; `totals` counts what happened."""

    def __init__(
        self,
        processor: WatchlistProcessor,
        dead_letters: DeadLetterPublisher,
        metrics: StreamMetrics,
        *,
        on_queued: Callable[[], None] = lambda: None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.processor = processor
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.on_queued = on_queued
        self.wall_clock = wall_clock
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def enriched(self, record: Record, attempt: int = 0) -> None:
        self._handle(record, attempt, EnrichedNews, self.processor.on_enriched, "article")

    def alert(self, record: Record, attempt: int = 0) -> None:
        self._handle(record, attempt, AlertEvent, self.processor.on_alert, "alert")

    def _handle(
        self, record: Record, attempt: int, contract: type[M], step: Callable[[M], StepOutcome], kind: str
    ) -> None:
        started = time.perf_counter()
        decoded = decode(record.value, contract)
        if isinstance(decoded, DecodeFailure):
            self._dead_letter(
                letter_from_failure(
                    decoded, source_topic=record.topic, partition=record.partition, offset=record.offset, key=record.key
                ),
                record,
            )
            return
        news_id = getattr(decoded, "news_id", None)
        try:
            outcome = step(decoded)
        except TRANSIENT:
            raise
        except Exception as exc:
            if attempt + 1 < MAX_ATTEMPTS:
                raise
            log.exception("giving up on %s[%d]@%d after %d attempts", record.topic, record.partition, record.offset, attempt + 1)
            letter = letter_from_exception(
                exc,
                record.value or b"",
                stage="store",
                source=record.topic,
                news_id=news_id,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
            )
            self._dead_letter(letter, record)
            return
        self._count(record, outcome, kind, news_id, time.perf_counter() - started)

    def _dead_letter(self, letter: DeadLetter, record: Record) -> None:
        self.dead_letters.publish(letter)
        self.dead_letters.flush()  # raises ProduceError (transient): retried, never lost
        self.metrics.dlq.labels(letter.stage).inc()
        self._add(record, dlq=1)

    def _add(self, record: Record, **counts: int) -> None:
        with self._lock:
            self.totals["consumed"] += 1
            self.totals.update(counts)
        self.metrics.consumed.labels(record.topic).inc()

    def _count(self, record: Record, outcome: StepOutcome, kind: str, news_id: str | None, seconds: float) -> None:
        self.metrics.item_seconds.observe(seconds)
        if outcome.skipped:
            self.metrics.skipped.labels(outcome.skipped).inc()
            self._add(record, skipped=1)
            return
        suppressed = sum(outcome.suppressed.values())
        self._add(
            record,
            matched=outcome.matched,
            queued=len(outcome.queued),
            deliveries=outcome.deliveries,
            duplicates=outcome.duplicates,
            suppressed=suppressed,
        )
        if not outcome.matched:
            return
        self.metrics.matched.labels(kind).inc(outcome.matched)
        self.metrics.notices.labels("queued", "").inc(len(outcome.queued))
        self.metrics.notices.labels("duplicate", "").inc(outcome.duplicates)
        for reason, n in outcome.suppressed.items():
            self.metrics.notices.labels("suppressed", reason).inc(n)
        if outcome.queued:
            if record.timestamp is not None:
                self.metrics.notice_latency.observe(max(self.wall_clock() - record.timestamp, 0.0))
            self.on_queued()
        log.info(
            "%s matched %d watchlists: %d queued, %d suppressed, %d already notified",
            kind,
            outcome.matched,
            len(outcome.queued),
            suppressed,
            outcome.duplicates,
            extra={"news_id": news_id} if news_id else {},
        )
