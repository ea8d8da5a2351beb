"""Test doubles for the ingest tests: a fixed clock, and the shared checked-send producer stand-in."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fixtures.fake_producer import FakeProducer

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def on(producer: FakeProducer, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record sent to `topic`."""
    return [(k, v) for t, k, v in producer.sent if t == topic]


__all__ = ["NOW", "FakeProducer", "on"]
