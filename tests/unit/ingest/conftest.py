"""Fixtures of the ingest unit tests."""

from __future__ import annotations

import pytest

from tests.unit.ingest.fakes import FakeProducer


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()
