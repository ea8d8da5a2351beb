"""`finsent demo`'s outcome check logs what failed without the `--serve` tokens of its summary."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pipeline.config import Settings
from workers.commands.demo import check_outcome
from workers.http.demo_server import DemoServer


@pytest.fixture
def served_summary() -> Iterator[tuple[dict[str, object], list[str]]]:
    """A demo summary with the `--serve` fields (login link and API token), and its two tokens."""
    server = DemoServer.prepare(Settings(), "sqlite://", host="127.0.0.1", port=0)
    try:
        summary: dict[str, object] = {"ingested": 10, "enriched": 7, "deduplicated": 1, "dlq": 1, "alerts_fired": 2}
        summary.update(server.summary())
        yield summary, [server.dashboard_token, server.api_token]
    finally:
        server.sock.close()


def test_counts_that_do_not_reconcile_are_logged_without_the_tokens(
    served_summary: tuple[dict[str, object], list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    summary, tokens = served_summary
    with caplog.at_level(logging.INFO):
        assert check_outcome(summary, consumed=10, produced=10) is False
    assert "counts do not reconcile" in caplog.text and "'ingested': 10" in caplog.text
    for token in tokens:
        assert token not in caplog.text
    assert "login?token" not in caplog.text


def test_a_run_that_reconciles_logs_nothing(
    served_summary: tuple[dict[str, object], list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    summary, _ = served_summary
    summary["enriched"] = 8
    with caplog.at_level(logging.INFO):
        assert check_outcome(summary, consumed=10, produced=10) is True
        assert check_outcome(summary, consumed=9, produced=10) is False
    assert [r.getMessage() for r in caplog.records] == ["demo timed out: consumed 9 of 10 produced items"]
