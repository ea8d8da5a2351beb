"""Which ticks the live worker evaluates: the watermark (wall clock - allowed lateness), on the
grid, catching up after downtime up to a limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.watermark import Watermark

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MARK = Watermark(timedelta(seconds=30), lateness=timedelta(seconds=60), max_catch_up=timedelta(minutes=10))


def test_a_tick_waits_for_its_allowed_lateness() -> None:
    assert MARK.due(None, T0 + timedelta(seconds=59)).ticks == (T0 - timedelta(seconds=30),)
    assert MARK.due(None, T0 + timedelta(seconds=60)).ticks == (T0,)
    assert MARK.due(T0, T0 + timedelta(seconds=89)).ticks == ()  # T0 + 30 s is due at T0 + 90 s
    assert MARK.due(T0, T0 + timedelta(seconds=90)).ticks == (T0 + timedelta(seconds=30),)


def test_missed_ticks_are_caught_up_in_order() -> None:
    due = MARK.due(T0, T0 + timedelta(minutes=3, seconds=5))
    assert due.ticks == tuple(T0 + timedelta(seconds=30 * k) for k in range(1, 5)) and due.skipped == 0


def test_ticks_older_than_the_catch_up_limit_are_skipped_and_counted() -> None:
    due = MARK.due(T0, T0 + timedelta(hours=1, seconds=60))
    assert due.ticks[0] == T0 + timedelta(minutes=50) and due.ticks[-1] == T0 + timedelta(hours=1)
    assert due.skipped == 100 - 1  # ticks T0+30s .. T0+49m30s
    assert len(due.ticks) + due.skipped == 120
