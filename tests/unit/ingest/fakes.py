"""Test doubles for the ingest tests: a fixed clock and an in-memory producer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class FakeProducer:
    """kafka-python's `send`/`flush`, recording (topic, key, value)."""

    sent: list[tuple[str, bytes | None, bytes | None]] = field(default_factory=list)
    flushed: int = 0
    fail_next: Exception | None = None

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.sent.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        return [(k, v) for t, k, v in self.sent if t == topic]
