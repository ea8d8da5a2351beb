"""Route one source item: normalise -> dedup -> produce to `news.raw`, or to `news.dlq`, or count.

Transport-free: the producer is anything with kafka-python's `send(topic, key=, value=)` and
`flush()`. Every item that enters is counted once, so `ingested == produced + deduplicated + dlq`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter

from pipeline.ingest.dedup import Deduplicator, DedupVerdict
from pipeline.ingest.normalize import InvalidItem, normalize
from schemas import DeadLetter, RawNews, encode, topics, utc_now

log = logging.getLogger(__name__)


class Producer(Protocol):
    """The part of `kafka.KafkaProducer` this module uses."""

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """Totals so far; `ingested == produced + deduplicated + dlq` always holds."""

    ingested: int = 0
    produced: int = 0
    deduplicated: int = 0
    dlq: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item. `news_id` is None only for items too broken to have one."""

    kind: Literal["produced", "duplicate", "dlq"]
    news_id: str | None = None
    verdict: DedupVerdict | None = None
    reason: str | None = None


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
        self.produce_errors = Counter(
            "finsent_ingest_produce_errors", "Sends to Kafka that failed", registry=registry
        )


class IngestPublisher:
    """One item in, one `Outcome` out; thread-safe (feeds, files and HTTP share one publisher)."""

    def __init__(
        self,
        producer: Producer,
        deduplicator: Deduplicator,
        *,
        topic_raw: str = topics.RAW,
        topic_dlq: str = topics.DLQ,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.producer = producer
        self.deduplicator = deduplicator
        self.topic_raw = topic_raw
        self.topic_dlq = topic_dlq
        self.metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = {"ingested": 0, "produced": 0, "deduplicated": 0, "dlq": 0}

    @property
    def counts(self) -> IngestCounts:
        with self._lock:
            return IngestCounts(**self._counts)

    def prepare(self, item: Mapping[str, object], *, source: str, default_tz: tzinfo = UTC) -> RawNews:
        """Normalise only (raises `InvalidItem`): for callers that answer the sender themselves."""
        return normalize(item, source=source, default_tz=default_tz, now=self._clock())

    def submit(
        self,
        raw_payload: bytes,
        item: Mapping[str, object],
        *,
        source: str,
        default_tz: tzinfo = UTC,
        origin: str | None = None,
    ) -> Outcome:
        """Normalise, dedup and produce `item`; an invalid one goes to the DLQ with `raw_payload`.

        `origin` (e.g. `news.jsonl:12`) is recorded in the dead letter's `source`.
        """
        try:
            raw = self.prepare(item, source=source, default_tz=default_tz)
        except InvalidItem as exc:
            return self.dead_letter(
                raw_payload, source=source, reason=str(exc), error_type="InvalidItem", origin=origin
            )
        return self.publish(raw, source=source)

    def publish(self, raw: RawNews, *, source: str) -> Outcome:
        """Dedup and produce an already normalised item (counted once it is produced or deduplicated)."""
        verdict = self.deduplicator.check(raw)
        if verdict.is_duplicate:
            self._count("ingested", source)
            self._count("deduplicated", source, kind=verdict.kind)
            log.info(
                "duplicate (%s of %s)",
                verdict.kind,
                verdict.duplicate_of,
                extra={"news_id": raw.id, "source": source},
            )
            return Outcome("duplicate", raw.id, verdict)
        try:
            future = self.producer.send(self.topic_raw, key=raw.id.encode("ascii"), value=encode(raw))
        except Exception:
            self.deduplicator.forget(raw.id)  # a retry must not be taken for a duplicate
            raise
        self._watch(future, raw.id)
        self._count("ingested", source)
        self._count("produced", source)
        log.debug("produced to %s", self.topic_raw, extra={"news_id": raw.id, "source": source})
        return Outcome("produced", raw.id, verdict)

    def dead_letter(
        self,
        raw_payload: bytes,
        *,
        source: str,
        reason: str,
        error_type: str,
        origin: str | None = None,
        news_id: str | None = None,
    ) -> Outcome:
        """Send an item that could not be read or normalised to the DLQ, payload byte for byte."""
        letter = DeadLetter.of(
            raw_payload,
            stage="ingest",
            reason=reason,
            error_type=error_type,
            source=f"{source} ({origin})" if origin else source,
            news_id=news_id,
        )
        future = self.producer.send(self.topic_dlq, key=(news_id or "").encode("ascii"), value=encode(letter))
        self._watch(future, news_id)
        self._count("ingested", source)
        self._count("dlq", source, error_type=error_type)
        log.warning(
            "to %s: %s",
            self.topic_dlq,
            reason,
            extra={"news_id": news_id, "source": source, "origin": origin},
        )
        return Outcome("dlq", news_id, reason=reason)

    def flush(self, timeout: float | None = None) -> None:
        self.producer.flush(timeout)

    def _count(self, what: str, source: str, **labels: str) -> None:
        with self._lock:
            self._counts[what] += 1
        if self.metrics is None:
            return
        if what == "ingested":
            self.metrics.seen.labels(source=source).inc()
        elif what == "produced":
            self.metrics.produced.labels(source=source).inc()
        elif what == "deduplicated":
            self.metrics.deduplicated.labels(kind=labels["kind"]).inc()
        else:
            self.metrics.dlq.labels(error_type=labels["error_type"]).inc()

    def _watch(self, future: object, news_id: str | None) -> None:
        """Log (and count) asynchronous send failures reported by a kafka-python future."""
        add_errback = getattr(future, "add_errback", None)
        if add_errback is None:
            return

        def failed(exc: BaseException) -> None:
            if self.metrics is not None:
                self.metrics.produce_errors.inc()
            log.error("send failed: %s", exc, extra={"news_id": news_id})

        add_errback(failed)
