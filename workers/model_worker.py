"""The model worker process loop: consume `news.raw` in a group, enrich, store, emit, commit.

Per batch: predict and store in one transaction (`pipeline.enrichment.process_batch`), produce the
`EnrichedNews` and dead letters and flush, then commit the batch's offsets. A crash anywhere only
replays work; the store is idempotent on (news_id, model_version).

Inference runs on the calling thread: kafka-python 3 heartbeats from its own background thread, so
group membership holds while a batch is scored (keep batches well under `max_poll_interval_ms`).
While the database is down, the assigned partitions are paused and the batch is retried with
exponential backoff; nothing is committed until it is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DBAPIError, OperationalError

from pipeline.config import Settings
from pipeline.db.writer import StoreResult
from pipeline.enrichment import BatchItem, BatchOutcome, Origin, PredictorLike, Store, process_batch
from pipeline.kafka.clients import consumer_lag
from pipeline.kafka.consume import RecordLike, decode_records
from pipeline.kafka.dlq import DeadLetterPublisher
from pipeline.kafka.produce import CheckedSends
from pipeline.metrics import ModelWorkerMetrics
from pipeline.model import Predictor, load_predictor
from schemas import DeadLetter, EnrichedNews, RawNews, encode, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelWorkerConfig:
    topic_in: str
    topic_enriched: str
    topic_dlq: str
    batch_max_items: int = 128
    batch_max_ms: int = 500
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings, *, topic_in: str | None = None) -> ModelWorkerConfig:
        """The live configuration; `topic_in` overrides the input topic (e.g. for replays)."""
        return cls(
            topic_in=topic_in or settings.topic_raw,
            topic_enriched=settings.topic_enriched,
            topic_dlq=settings.topic_dlq,
            batch_max_items=settings.batch_max_items,
            batch_max_ms=settings.batch_max_ms,
        )


def predictor_from_settings(settings: Settings) -> Predictor:
    """Load the configured checkpoint (the shipped default when none is set) on the configured device."""
    return load_predictor(
        path=settings.model_path,
        device=settings.model_device,
        threads=settings.model_threads,
        quantize=settings.model_quantize,
    )


@dataclass
class WorkerTotals:
    consumed: int = 0
    stored: int = 0
    produced: int = 0
    deduplicated: int = 0
    dlq: int = 0
    batches: int = 0
    dlq_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


def decode_batch(records: Sequence[RecordLike]) -> tuple[list[BatchItem], list[DeadLetter]]:
    """Contracts at the edge: each Kafka record becomes a `BatchItem` or a dead letter with its reason."""
    payloads = {(r.topic, r.partition, r.offset): r.value or b"" for r in records}
    decoded, letters = decode_records(records, RawNews)
    items = [
        BatchItem(
            news=d.value,
            origin=Origin(d.topic, d.partition, d.offset),
            payload=payloads[(d.topic, d.partition, d.offset)],
        )
        for d in decoded
    ]
    return items, letters


def next_offsets(records: Sequence[RecordLike]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets to commit after `records`: per partition, the highest offset + 1."""
    highest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        highest[tp] = max(highest.get(tp, -1), record.offset)
    return {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in highest.items()}


class _Abandoned(Exception):
    """Stop was requested while the database was down: the batch is left uncommitted (it will replay)."""


class ModelWorker:
    """One member of the model consumer group. Transport objects are injected."""

    def __init__(
        self,
        *,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        predictor: PredictorLike,
        store: Store,
        config: ModelWorkerConfig,
        metrics: ModelWorkerMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._dlq = DeadLetterPublisher(producer, config.topic_dlq)
        self._predictor = predictor
        self._store = store
        self._config = config
        self.metrics = metrics or ModelWorkerMetrics.create()
        self._clock = clock
        self.totals = WorkerTotals()
        self.last_batch_at: float | None = None
        self.storing_ok = True
        self.lag: dict[int, int] = {}

    def run(self, stop: threading.Event, *, until: Callable[[WorkerTotals], bool] | None = None) -> WorkerTotals:
        """Process batches until `stop` is set (or `until(totals)` holds), then commit and return."""
        while not stop.is_set() and not (until and until(self.totals)):
            polled = self._consumer.poll(
                timeout_ms=self._config.batch_max_ms, max_records=self._config.batch_max_items
            )
            records = [record for batch in polled.values() for record in batch]
            if records and not self._handle(records, stop):
                break  # stop requested while the store was down: leave the batch uncommitted
            self._observe_lag()
        return self.totals

    def _observe_lag(self) -> None:
        """Refresh the lag gauge from the last fetch (on this thread: the consumer is not thread-safe)."""
        self.lag = {tp.partition: n for tp, n in consumer_lag(self._consumer).items()}
        for partition, behind in self.lag.items():
            self.metrics.lag.labels(str(partition)).set(behind)

    def _handle(self, records: list[RecordLike], stop: threading.Event) -> bool:
        started = time.perf_counter()
        items, letters = decode_batch(records)
        store = partial(self._store_with_retry, stop=stop)
        try:
            outcome = process_batch(items, self._predictor, store, clock=self._clock)
        except _Abandoned:
            return False
        letters += outcome.dead_letters
        self._emit(outcome, letters)
        self._consumer.commit(offsets=next_offsets(records))
        self._account(records, items, outcome, letters, time.perf_counter() - started)
        return True

    def _store_with_retry(
        self, articles: Sequence[RawNews], enriched: Sequence[EnrichedNews], *, stop: threading.Event
    ) -> StoreResult:
        """Store the batch; while the database is unreachable, pause the partitions and retry with backoff."""
        delay = self._config.retry_initial_s
        paused = False
        try:
            while True:
                try:
                    result = self._store(articles, enriched)
                    self.storing_ok = True
                    return result
                except DBAPIError as exc:
                    if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                        raise  # not an outage: a bug or bad data, let the process restart and replay
                    self.storing_ok = False
                    self.metrics.store_retries.inc()
                    log.warning("database unavailable, retrying batch in %.1fs: %s", delay, exc.orig or exc)
                    if not paused:
                        self._consumer.pause(*self._consumer.assignment())
                        paused = True
                    if stop.wait(delay):
                        raise _Abandoned from exc
                    self._consumer.poll(timeout_ms=0)  # keep the group membership alive; partitions paused
                    delay = min(delay * 2, self._config.retry_max_s)
        finally:
            if paused:
                self._consumer.resume(*self._consumer.paused())

    def _emit(self, outcome: BatchOutcome, letters: Sequence[DeadLetter]) -> None:
        """Produce the batch's results and dead letters; raises `ProduceError` (before the commit)
        unless the broker acknowledged every record."""
        sends = CheckedSends(self._producer)
        for enriched in outcome.enriched:
            sends.send(self._config.topic_enriched, key=enriched.news_id.encode(), value=encode(enriched))
        for letter in letters:
            self._dlq.publish(letter)
        sends.wait()
        self._dlq.flush()

    def _account(
        self,
        records: Sequence[RecordLike],
        items: Sequence[BatchItem],
        outcome: BatchOutcome,
        letters: Sequence[DeadLetter],
        seconds: float,
    ) -> None:
        m, t = self.metrics, self.totals
        now = self._clock()
        t.batches += 1
        t.consumed += len(records)
        t.stored += outcome.stored.enrichments_inserted
        t.produced += len(outcome.enriched)
        t.deduplicated += outcome.duplicates
        t.dlq += len(letters)
        for letter in letters:
            t.dlq_reasons[letter.stage] = t.dlq_reasons.get(letter.stage, 0) + 1
            m.dlq.labels(letter.stage).inc()
        m.consumed.inc(len(records))
        m.stored.inc(outcome.stored.enrichments_inserted)
        m.produced.inc(len(outcome.enriched))
        m.deduplicated.inc(outcome.duplicates)
        m.batch_size.observe(len(records))
        m.inference_seconds.observe(seconds)
        for item in items:
            m.since_published.observe(max(0.0, (now - item.news.published_at).total_seconds()))
            m.since_ingested.observe(max(0.0, (now - item.news.ingested_at).total_seconds()))
        self.last_batch_at = time.time()
        log.info(
            "batch stored",
            extra={
                "records": len(records),
                "stored": outcome.stored.enrichments_inserted,
                "duplicates": outcome.duplicates,
                "dlq": len(letters),
                "seconds": round(seconds, 3),
            },
        )
