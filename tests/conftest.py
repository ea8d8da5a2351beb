"""Shared fixtures. Service fixtures live in `tests/fixtures/`, one module per service."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.kafka",
    "tests.fixtures.ingest",
    "tests.fixtures.model",
    "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Tests that run the CLI in-process call `configure_logging`, which replaces the root handlers
    with one writing to the test's captured stderr; put the originals back so later tests do not
    log into a closed capture file ("I/O operation on closed file")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
