"""The model worker process loop: consume `news.raw` in a group, enrich, store, emit, commit.

Per batch: predict and store (`pipeline.enrichment.process_batch`: bad items isolated into dead
letters), produce the `EnrichedNews` and dead letters and check every acknowledgement, then commit
the batch's offsets. A crash anywhere only replays work; the store is idempotent on
(news_id, model_version).

Inference runs on the calling thread: kafka-python 3 heartbeats from its own background thread, so
group membership holds while a batch is scored (keep batches well under `max_poll_interval_ms`).

Transient faults hold the batch, never skip it (tenacity; exponential backoff from
`retry_initial_s`, capped at `retry_max_s`, for as long as the fault lasts, until stop):

- database outage (`pipeline.db.faults.is_outage`): the store is retried;
- records not acknowledged (`ProduceError`) or the commit timed out: the emit or commit is
  retried, after re-creating the topics if the broker lost them.

Meanwhile the assigned partitions are paused (polls keep the group membership alive and fetch
nothing) and nothing is committed. A stop request during the wait leaves the batch uncommitted
(it replays).

After every (re)assignment each partition is read from its committed offset, or from the
beginning when the group has none: after a restart of an in-memory broker (topics and offsets
lost), the worker re-creates its topics (checked every `topic_check_s` while idle) and reads the
new ones from the start, instead of resuming at positions that belonged to the lost log. A
rebalance that gets no assignment within `rejoin_after_s` is started over with a new member id
(Tansu accepts a JoinGroup from a member it forgot in its restart, then never completes it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from pipeline.config import Settings
from pipeline.db.faults import is_outage
from pipeline.db.writer import StoreResult
from pipeline.enrichment import BatchItem, BatchOutcome, Origin, PredictorLike, Store, process_batch
from pipeline.kafka.clients import consumer_lag
from pipeline.kafka.consume import RecordLike, decode_records
from pipeline.kafka.dlq import DeadLetterPublisher
from pipeline.kafka.produce import CheckedSends, ProduceError
from pipeline.metrics import ModelWorkerMetrics
from pipeline.model import Predictor, load_predictor
from schemas import DeadLetter, EnrichedNews, RawNews, encode, utc_now

log = logging.getLogger(__name__)
T = TypeVar("T")

CONSUMER_OVERRIDES: Mapping[str, Any] = {"allow_auto_create_topics": False}
"""The worker's consumer never creates topics by subscribing: a broker's defaults would pick the
partition count; the worker creates them itself with `FINSENT_KAFKA_PARTITIONS`."""

PRODUCER_OVERRIDES: Mapping[str, Any] = {"allow_auto_create_topics": False, "max_block_ms": 10_000}
"""Likewise for the producer; a missing topic fails a send within 10 s, so the retry re-creates it."""


@dataclass(frozen=True)
class ModelWorkerConfig:
    topic_in: str
    topic_enriched: str
    topic_dlq: str
    batch_max_items: int = 128
    batch_max_ms: int = 200
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    commit_timeout_s: float = 30.0
    rejoin_after_s: float = 60.0
    """A rebalance still without an assignment after this long is started over with a new member
    id: a restarted broker can accept the old member's JoinGroup and never complete it."""
    topic_check_s: float = 5.0
    """While no records arrive, check this often that the topics exist (broker restarts)."""

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
    """Stop was requested while waiting out a fault: the batch is left uncommitted (it will replay)."""


class _Assignments(ConsumerRebalanceListener):
    """Remembers the partitions of each (re)assignment for the worker to reposition (the listener
    runs on the client's I/O thread, where blocking calls such as `committed()` are not allowed),
    and since when a rebalance has been waiting for its assignment."""

    def __init__(self) -> None:
        self.pending: set[TopicPartition] = set()
        self.rebalancing_since: float | None = None

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        if self.rebalancing_since is None:
            self.rebalancing_since = time.monotonic()

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.pending |= set(assigned)
        self.rebalancing_since = None


class ModelWorker:
    """One member of the model consumer group. Transport objects are injected.

    `ensure_topics`, when given, (re)creates the worker's topics; it is called every
    `topic_check_s` while idle, after each (re)assignment and before retrying a failed emit (an
    in-memory broker that restarted lost them).
    """

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
        ensure_topics: Callable[[], None] | None = None,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._dlq = DeadLetterPublisher(producer, config.topic_dlq)
        self._predictor = predictor
        self._store = store
        self._config = config
        self.config = config
        self.metrics = metrics or ModelWorkerMetrics.create()
        self._clock = clock
        self._ensure_topics = ensure_topics
        self._assignments = _Assignments()
        self._subscribe()
        self._paused = False
        self._topics_checked_at = time.monotonic()
        self.totals = WorkerTotals()
        self.last_batch_at: float | None = None
        self.storing_ok = True
        self.emitting_ok = True
        self.lag: dict[int, int] = {}

    def _subscribe(self) -> None:
        self._consumer.subscribe([self._config.topic_in], listener=self._assignments)

    def run(self, stop: threading.Event, *, until: Callable[[WorkerTotals], bool] | None = None) -> WorkerTotals:
        """Process batches until `stop` is set (or `until(totals)` holds), then return."""
        while not stop.is_set() and not (until and until(self.totals)):
            polled = self._consumer.poll(
                timeout_ms=self._config.batch_max_ms, max_records=self._config.batch_max_items
            )
            records = self._from_committed(polled)
            if records and not self._handle(records, stop):
                break  # stop requested while waiting out a fault: leave the batch uncommitted
            self._observe_lag()
            if not records:
                self._check_topics()
                self._rejoin_if_stuck()
        return self.totals

    def _from_committed(self, polled: Mapping[TopicPartition, Sequence[RecordLike]]) -> list[RecordLike]:
        """The polled records, except those of partitions (re)assigned since the last poll: these
        are set to the committed offset (the beginning when there is none) and read again."""
        assigned, self._assignments.pending = self._assignments.pending, set()
        for tp in assigned & self._consumer.assignment():
            try:
                committed = self._consumer.committed(tp)
            except KafkaError as exc:  # the coordinator is away: try again after the next poll
                log.warning("cannot read the committed offset of partition %d yet: %s", tp.partition, exc)
                self._assignments.pending.add(tp)
                continue
            if committed is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)
        if assigned:
            log.info("partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned)})
            self._recreate_topics()  # a rejoin may follow a broker restart that lost the output topics
        return [record for tp, batch in polled.items() if tp not in assigned for record in batch]

    def _check_topics(self) -> None:
        """Idle: every `topic_check_s`, make sure the topics exist (a restarted in-memory broker lost
        them, and the group cannot rejoin until the input topic is back). Whatever the assignment
        says: it still names the old partitions while a rejoin waits."""
        if time.monotonic() - self._topics_checked_at >= self._config.topic_check_s:
            self._topics_checked_at = time.monotonic()
            self._recreate_topics()

    def _rejoin_if_stuck(self) -> None:
        since = self._assignments.rebalancing_since
        if since is None or time.monotonic() - since < self._config.rejoin_after_s:
            return
        log.warning("no assignment %.0fs into a rebalance; joining the group again as a new member", time.monotonic() - since)
        self._assignments.rebalancing_since = None
        self._consumer.unsubscribe()  # leaves the group and forgets the member id
        self._subscribe()

    def _recreate_topics(self) -> bool:
        if self._ensure_topics is None:
            return False
        try:
            self._ensure_topics()
            return True
        except (KafkaError, OSError) as exc:
            log.warning("could not ensure the topics exist: %s", exc)
            return False

    def _observe_lag(self) -> None:
        """Refresh the lag gauge from the last fetch (on this thread: the consumer is not thread-safe)."""
        self.lag = {tp.partition: n for tp, n in consumer_lag(self._consumer).items()}
        for partition, behind in self.lag.items():
            self.metrics.lag.labels(str(partition)).set(behind)

    def _handle(self, records: list[RecordLike], stop: threading.Event) -> bool:
        started = time.perf_counter()
        items, letters = decode_batch(records)
        try:
            store = partial(self._store_with_retry, stop=stop)
            outcome = process_batch(items, self._predictor, store, clock=self._clock)
            letters += outcome.dead_letters
            self._hold(stop, partial(self._emit, outcome, letters), _is_produce_fault, "emit", self._recreate_topics)
            self.emitting_ok = True
            committed = self._hold(stop, partial(self._commit, records), _is_commit_timeout, "commit")
        except _Abandoned:
            return False
        finally:
            self._resume()
        self._account(records, items, outcome, letters, time.perf_counter() - started, committed)
        return True

    def _store_with_retry(
        self, articles: Sequence[RawNews], enriched: Sequence[EnrichedNews], *, stop: threading.Event
    ) -> StoreResult:
        """Store; while the database is unreachable, hold the batch (partitions paused) and retry."""
        result = self._hold(stop, partial(self._store, articles, enriched), is_outage, "store")
        self.storing_ok = True
        return result

    def _hold(
        self,
        stop: threading.Event,
        action: Callable[[], T],
        transient: Callable[[BaseException], bool],
        what: str,
        before_retry: Callable[[], object] | None = None,
    ) -> T:
        """Run `action`; retry it with capped exponential backoff while it fails with a
        `transient` error, the partitions paused meanwhile. Raises `_Abandoned` on stop."""

        def on_fault(state: RetryCallState) -> None:
            self._on_fault(what, state)
            if before_retry is not None:
                before_retry()

        retrying = Retrying(
            retry=retry_if_exception(transient),
            wait=wait_exponential(multiplier=self._config.retry_initial_s, max=self._config.retry_max_s),
            sleep=partial(self._wait_paused, stop),
            before_sleep=on_fault,
            reraise=True,
        )
        return retrying(action)

    def _on_fault(self, what: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if what == "store":
            self.storing_ok = False
            self.metrics.store_retries.inc()
        else:
            self.emitting_ok = False
            self.metrics.kafka_retries.labels(what).inc()
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (attempt %d), retrying the batch in %.1fs: %s", what, state.attempt_number, delay, exc)

    def _wait_paused(self, stop: threading.Event, seconds: float) -> None:
        """Sleep between retries with every assigned partition paused; keep the membership alive."""
        self._pause()
        if stop.wait(seconds):
            raise _Abandoned
        polled = self._consumer.poll(timeout_ms=0)  # heartbeats / rebalances; paused: fetches nothing
        self._pause()  # a rebalance may have assigned partitions that are not paused yet
        for tp, batch in polled.items():
            self._consumer.seek(tp, batch[0].offset)  # fetched anyway: read again after the fault

    def _pause(self) -> None:
        self._consumer.pause(*self._consumer.assignment())
        self._paused = True

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(*self._consumer.paused())
            self._paused = False

    def _emit(self, outcome: BatchOutcome, letters: Sequence[DeadLetter]) -> None:
        """Produce the batch's results and dead letters; raises `ProduceError` (before the commit)
        unless the broker acknowledged every record. A retry sends them all again (consumers of
        `news.enriched` and `news.dlq` see at-least-once)."""
        sends = CheckedSends(self._producer)
        for enriched in outcome.enriched:
            sends.send(self._config.topic_enriched, key=enriched.news_id.encode(), value=encode(enriched))
        for letter in letters:
            self._dlq.publish(letter)
        sends.wait()
        self._dlq.flush()

    def _commit(self, records: Sequence[RecordLike]) -> bool:
        """Commit the batch's offsets. False when the group moved on (a rebalance, or a restarted
        broker that forgot the group): the batch is stored, and whoever reads those partitions
        next re-reads it as duplicates."""
        try:
            self._consumer.commit(offsets=next_offsets(records), timeout_ms=int(self._config.commit_timeout_s * 1000))
            return True
        except CommitFailedError as exc:
            log.warning("offsets not committed, the group rebalanced; the batch is stored and replays as duplicates: %s", exc)
            return False

    def _account(
        self,
        records: Sequence[RecordLike],
        items: Sequence[BatchItem],
        outcome: BatchOutcome,
        letters: Sequence[DeadLetter],
        seconds: float,
        committed: bool,
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
                "committed": committed,
                "seconds": round(seconds, 3),
            },
        )


def _is_produce_fault(exc: BaseException) -> bool:
    return isinstance(exc, ProduceError)


def _is_commit_timeout(exc: BaseException) -> bool:
    """A commit that could not reach the coordinator in time (retriable); a `CommitFailedError`
    (the group moved on) is handled by `_commit` itself."""
    return isinstance(exc, KafkaError) and not isinstance(exc, CommitFailedError) and bool(exc.retriable)
