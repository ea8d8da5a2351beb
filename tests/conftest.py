"""Shared fixtures. Service fixtures live in `tests/fixtures/`, one module per service."""

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.kafka",
    "tests.fixtures.ingest",
    "tests.fixtures.model",
    "tests.fixtures.browser",
]
