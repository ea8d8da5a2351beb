"""Route a batch of source items: normalise -> dedup -> produce to `news.raw` / `news.dlq` -> record.

One batch at a time (a file chunk, a feed poll, an HTTP request), thread-safe:

1. each record is normalised to a `RawNews`, or is invalid (unreadable, `InvalidItem`);
2. each `RawNews` is checked against the items *in flight* in this process (the `Deduplicator`,
   which also catches repeats inside the batch) and then against the durable `SeenStore`;
3. the unique items (and, with `invalid="dlq"`, a dead letter per invalid item) are produced with
   `CheckedSends`: the batch returns only when the broker acknowledged every record, else it
   raises `ProduceError` and nothing is recorded, so a retry of the batch is not called duplicate;
4. the acknowledged items are recorded in the `SeenStore`, and only then counted.

Every item ends `produced`, `duplicate`, `dlq` or `rejected` (invalid, told to the HTTP sender
instead of dead-lettered), and `ingested == produced + deduplicated + dlq + rejected`.
Without a `SeenStore` (unit tests, benchmarks) the `Deduplicator` alone remembers what was sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter

from pipeline.ingest.dedup import DedupKey, Deduplicator, DedupVerdict, verdict_for
from pipeline.ingest.normalize import InvalidItem, normalize
from pipeline.ingest.seen import SeenStore
from pipeline.ingest.sources.records import SourceRecord
from pipeline.kafka.produce import DEFAULT_WAIT_S, CheckedSends, ProduceError
from schemas import DeadLetter, RawNews, encode, topics, utc_now

log = logging.getLogger(__name__)

MAX_DLQ_PAYLOAD_BYTES: Final = 4 * 1024 * 1024
"""A dead letter keeps at most this much of its payload (base64 of it stays under the record limit)."""

OutcomeKind = Literal["produced", "duplicate", "dlq", "rejected"]
InvalidPolicy = Literal["dlq", "reject"]


class Producer(Protocol):
    """The part of `kafka.KafkaProducer` this module uses (through `CheckedSends`)."""

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kwargs: Any) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """Totals so far; `ingested == produced + deduplicated + dlq + rejected` always holds."""

    ingested: int = 0
    produced: int = 0
    deduplicated: int = 0
    dlq: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item. `news_id` is None only for items too broken to have one."""

    kind: OutcomeKind
    news_id: str | None = None
    verdict: DedupVerdict | None = None
    reason: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class _Invalid:
    index: int
    reason: str
    error_type: str
    field: str | None = None


class IngestMetrics:
    """Prometheus counters for ingest, registered on the given registry (not the global one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.seen = Counter("finsent_ingest_seen", "Items that entered ingest", ["source"], registry=registry)
        self.produced = Counter(
            "finsent_ingest_produced", "Items produced to news.raw", ["source"], registry=registry
        )
        self.deduplicated = Counter(
            "finsent_ingest_deduplicated", "Items counted as duplicates", ["kind"], registry=registry
        )
        self.dlq = Counter("finsent_ingest_dlq", "Items sent to news.dlq", ["error_type"], registry=registry)
        self.rejected = Counter(
            "finsent_ingest_rejected", "Invalid items refused to the HTTP sender", ["field"], registry=registry
        )
        self.produce_errors = Counter(
            "finsent_ingest_produce_errors", "Batches the broker did not fully acknowledge", registry=registry
        )


class IngestPublisher:
    """Batches in, one `Outcome` per item out; feeds, files and HTTP requests share one publisher."""

    def __init__(
        self,
        producer: Producer,
        deduplicator: Deduplicator,
        *,
        seen: SeenStore | None = None,
        topic_raw: str = topics.RAW,
        topic_dlq: str = topics.DLQ,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        send_timeout_s: float = DEFAULT_WAIT_S,
    ) -> None:
        self.producer = producer
        self.deduplicator = deduplicator
        self.seen = seen
        self.topic_raw = topic_raw
        self.topic_dlq = topic_dlq
        self.metrics = metrics
        self.send_timeout_s = send_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = IngestCounts().as_dict()
        self.last_send_failure: datetime | None = None
        """When a batch was last not acknowledged by the broker (None: never)."""

    def broker_ok(self, within_s: float = 60.0) -> bool:
        """No batch failed to be acknowledged in the last `within_s` seconds."""
        failed = self.last_send_failure
        return failed is None or (self._clock() - failed).total_seconds() > within_s

    @property
    def counts(self) -> IngestCounts:
        with self._lock:
            return IngestCounts(**self._counts)

    # ------------------------------------------------------------------------------ entry points

    def publish_records(
        self,
        records: Sequence[SourceRecord],
        *,
        source: str,
        default_tz: tzinfo = UTC,
        invalid: InvalidPolicy = "dlq",
    ) -> list[Outcome]:
        """Normalise, dedup, produce and record one batch; one outcome per record, in order.

        Raises `ProduceError` (or the database's error) with nothing recorded or counted: the
        whole batch can be retried.
        """
        now = self._clock()
        raws: list[tuple[int, RawNews]] = []
        invalids: list[_Invalid] = []
        for index, record in enumerate(records):
            if record.item is None:
                invalids.append(_Invalid(index, record.error or "unreadable", record.error_type or "Unreadable"))
                continue
            try:
                raws.append((index, normalize(record.item, source=source, default_tz=default_tz, now=now)))
            except InvalidItem as exc:
                invalids.append(_Invalid(index, exc.reason, "InvalidItem", exc.field))
            except Exception as exc:  # a normaliser bug must not lose the item: dead-letter it, loudly
                log.exception("normalising %s failed", record.origin)
                invalids.append(_Invalid(index, f"could not normalise: {exc}", type(exc).__name__))
        letters = [self._letter(records[i.index], i, source) for i in invalids] if invalid == "dlq" else []
        return self._publish(raws, invalids, letters, len(records), source=source, invalid=invalid)

    def publish_many(self, items: Sequence[RawNews], *, source: str) -> list[Outcome]:
        """Dedup, produce and record already normalised items (one batch)."""
        return self._publish(list(enumerate(items)), [], [], len(items), source=source, invalid="dlq")

    def submit(
        self,
        raw_payload: bytes,
        item: Mapping[str, object],
        *,
        source: str,
        default_tz: tzinfo = UTC,
        origin: str | None = None,
    ) -> Outcome:
        """One item as a batch of one (`origin`, e.g. `news.jsonl:12`, is named in a dead letter)."""
        record = SourceRecord(raw_payload, item, origin or source)
        return self.publish_records([record], source=source, default_tz=default_tz)[0]

    # ------------------------------------------------------------------------------ the batch

    def _publish(
        self,
        raws: list[tuple[int, RawNews]],
        invalids: list[_Invalid],
        letters: list[DeadLetter],
        total: int,
        *,
        source: str,
        invalid: InvalidPolicy,
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * total
        claimed: list[tuple[int, RawNews, DedupKey]] = []
        for index, raw in raws:
            key = DedupKey.of(raw)
            verdict = self.deduplicator.check_key(key)  # claims `key` when unique (in flight)
            if verdict.is_duplicate:
                outcomes[index] = Outcome("duplicate", raw.id, verdict)
            else:
                claimed.append((index, raw, key))
        acknowledged = False
        try:
            to_send = self._durable_check(claimed, outcomes)
            sends = CheckedSends(self.producer)  # type: ignore[arg-type]
            for _, raw, _ in to_send:
                sends.send(self.topic_raw, key=raw.id.encode("ascii"), value=encode(raw))
            for letter in letters:
                sends.send(self.topic_dlq, key=(letter.news_id or "").encode("ascii"), value=encode(letter))
            try:
                sends.wait(self.send_timeout_s)
            except ProduceError as exc:
                self.last_send_failure = self._clock()
                if self.metrics is not None:
                    self.metrics.produce_errors.inc()
                log.error("batch of %d from %s not acknowledged: %s", total, source, exc)
                raise
            if self.seen is not None:
                self.seen.record(key for _, _, key in to_send)
            acknowledged = True
        finally:
            # the in-flight claims go once recorded durably, or when the batch failed (so a retry
            # is not called a duplicate); without a durable store the memory index keeps them
            if self.seen is not None or not acknowledged:
                for _, raw, _ in claimed:
                    self.deduplicator.forget(raw.id)
        for index, raw, _ in to_send:
            outcomes[index] = Outcome("produced", raw.id)
        kind: OutcomeKind = "dlq" if invalid == "dlq" else "rejected"
        for item in invalids:
            outcomes[item.index] = Outcome(kind, None, reason=item.reason, field=item.field)
        done = [o for o in outcomes if o is not None]
        assert len(done) == total, "every item of a batch has an outcome"
        self._account(done, invalids, source)
        return done

    def _durable_check(
        self, claimed: list[tuple[int, RawNews, DedupKey]], outcomes: list[Outcome | None]
    ) -> list[tuple[int, RawNews, DedupKey]]:
        """The claimed items the durable store has not seen; the others get their duplicate outcome."""
        if self.seen is None or not claimed:
            return claimed
        candidates = self.seen.candidates([key for _, _, key in claimed])
        fresh = []
        for index, raw, key in claimed:
            verdict = verdict_for(key, candidates, self.deduplicator.ttl)
            if verdict.is_duplicate:
                outcomes[index] = Outcome("duplicate", raw.id, verdict)
            else:
                fresh.append((index, raw, key))
        return fresh

    def _letter(self, record: SourceRecord, item: _Invalid, source: str) -> DeadLetter:
        payload = record.raw
        reason = item.reason if item.field is None else f"{item.field}: {item.reason}"
        if len(payload) > MAX_DLQ_PAYLOAD_BYTES:
            reason += f" (payload truncated to {MAX_DLQ_PAYLOAD_BYTES} of {len(payload)} bytes)"
            payload = payload[:MAX_DLQ_PAYLOAD_BYTES]
        return DeadLetter.of(
            payload,
            stage="ingest",
            reason=_text(reason) or item.error_type,
            error_type=_text(item.error_type),
            source=_text(f"{source} ({record.origin})" if record.origin != source else source),
        )

    # ------------------------------------------------------------------------------ accounting

    def _account(self, outcomes: list[Outcome], invalids: list[_Invalid], source: str) -> None:
        with self._lock:
            self._counts["ingested"] += len(outcomes)
            for outcome in outcomes:
                self._counts[_COUNTER[outcome.kind]] += 1
        for outcome in outcomes:
            extra = {"news_id": outcome.news_id, "source": source}
            if outcome.kind == "duplicate" and outcome.verdict is not None:
                log.info("duplicate (%s of %s)", outcome.verdict.kind, outcome.verdict.duplicate_of, extra=extra)
            elif outcome.kind == "produced":
                log.debug("produced to %s", self.topic_raw, extra=extra)
        for item in invalids:
            log.warning(
                "%s: %s",
                "to " + self.topic_dlq if outcomes[item.index].kind == "dlq" else "rejected",
                _text(item.reason),
                extra={"source": source, "field": item.field},
            )
        if self.metrics is None:
            return
        m = self.metrics
        m.seen.labels(source=source).inc(len(outcomes))
        for outcome in outcomes:
            if outcome.kind == "produced":
                m.produced.labels(source=source).inc()
            elif outcome.kind == "duplicate" and outcome.verdict is not None:
                m.deduplicated.labels(kind=outcome.verdict.kind).inc()
        for item in invalids:
            if outcomes[item.index].kind == "dlq":
                m.dlq.labels(error_type=item.error_type).inc()
            else:
                m.rejected.labels(field=item.field or "item").inc()

    def flush(self, timeout: float | None = None) -> None:
        """Every batch is acknowledged before it returns; this only flushes the producer's buffers."""
        self.producer.flush(timeout)


_COUNTER: Final[Mapping[OutcomeKind, str]] = {
    "produced": "produced",
    "duplicate": "deduplicated",
    "dlq": "dlq",
    "rejected": "rejected",
}


def _text(value: str) -> str:
    """`value` as valid UTF-8 text (lone surrogates escaped), for contracts and log lines."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
