"""Checked sends: every record of a batch is acknowledged by the broker, or the batch fails.

kafka-python's `KafkaProducer.flush()` returns normally even when records failed (the error sits
in each record's future), so a caller that flushes and then commits offsets or marks outbox rows
published can lose records silently. `CheckedSends` keeps every future of a batch and `wait()`
raises `ProduceError` unless all of them succeeded, so the caller fails the batch *before* the
commit that depends on it (quix-streams' `RowProducer.flush()` does the same).

    sends = CheckedSends(producer)
    for item in batch:
        sends.send(topic, value=encode(item), key=item.id.encode())
    sends.wait(timeout_s=30)   # raises ProduceError naming the failed records
    consumer.commit(...)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.producer.future import FutureRecordMetadata, RecordMetadata

DEFAULT_WAIT_S = 30.0


class ProduceError(KafkaError):
    """Some records of a batch were not acknowledged; `failures` says which and why."""

    retriable = True

    def __init__(self, failures: Sequence[tuple[str, str]], total: int) -> None:
        self.failures = list(failures)
        self.total = total
        first = "; ".join(f"{topic}: {why}" for topic, why in self.failures[:3])
        super().__init__(f"{len(self.failures)} of {total} records not acknowledged ({first})")


@dataclass
class CheckedSends:
    """The sends of one batch on `producer`; `wait()` returns their metadata or raises `ProduceError`."""

    producer: KafkaProducer
    _pending: list[tuple[str, FutureRecordMetadata | BaseException]] = field(default_factory=list)

    def send(
        self,
        topic: str,
        *,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record; an immediate refusal (too large, no metadata) is kept and raised by `wait()`."""
        try:
            future = self.producer.send(
                topic, value=value, key=key, headers=list(headers) if headers else None, timestamp_ms=timestamp_ms
            )
        except KafkaError as exc:
            self._pending.append((topic, exc))
            return
        self._pending.append((topic, future))

    def __len__(self) -> int:
        return len(self._pending)

    def wait(self, timeout_s: float = DEFAULT_WAIT_S) -> list[RecordMetadata]:
        """Flush, then check every record; raise `ProduceError` if any failed or timed out."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        deadline = time.monotonic() + timeout_s
        try:
            self.producer.flush(timeout=timeout_s)
        except KafkaTimeoutError:
            pass  # each unfinished future is reported below
        acked: list[RecordMetadata] = []
        failures: list[tuple[str, str]] = []
        for topic, outcome in pending:
            if isinstance(outcome, BaseException):
                failures.append((topic, _describe(outcome)))
                continue
            try:
                acked.append(outcome.get(timeout=max(0.0, deadline - time.monotonic())))
            except KafkaError as exc:
                failures.append((topic, _describe(exc)))
        if failures:
            raise ProduceError(failures, len(pending))
        return acked


def _describe(exc: BaseException) -> str:
    """`Type: message` (kafka-python's errors already start with their type name)."""
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"
