"""Quiet hours are local times of day in the watchlist's zone: a bound with an offset (or a number
of seconds, which pydantic reads as an aware UTC time) is refused when given, instead of making
`contains` compare an aware time with a naive one (TypeError each time notices are checked)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from alerts.watchlists.model import QuietHours, WatchlistSpec


@pytest.mark.parametrize("bound", ["00:00:00Z", "22:00+02:00", "07:00:00-05:00", 3600, "22:00\n", "7:00", "24:00"])
def test_a_bound_with_an_offset_or_not_a_time_of_day_is_refused(bound: object) -> None:
    with pytest.raises(ValidationError, match="not a local time of day"):
        QuietHours.model_validate({"start": bound, "end": "06:00"})
    with pytest.raises(ValidationError, match="not a local time of day"):
        WatchlistSpec.model_validate(
            {"name": "w", "owner": "o", "tickers": ["AAPL"], "quiet_hours": {"start": "06:00", "end": bound}}
        )


@pytest.mark.parametrize("bound", ["22:00", "22:00:30", "22:00:30.25"])
def test_local_times_are_read_and_written_back_the_same(bound: str) -> None:
    quiet = QuietHours.model_validate({"start": bound, "end": "06:00", "timezone": "Europe/Paris"})
    assert quiet.start.tzinfo is None
    assert QuietHours.model_validate(quiet.model_dump(mode="json")) == quiet
    assert quiet.contains(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))  # 00:00 in Paris
    assert not quiet.contains(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))


def test_python_times_without_an_offset_are_kept() -> None:
    assert QuietHours(start=time(22), end=time(7)).contains(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))
    with pytest.raises(ValidationError):
        QuietHours(start=time(22, tzinfo=UTC), end=time(7))


def test_every_zone_the_document_lists_is_taken() -> None:
    """The OpenAPI `timezone` enum is what the server accepts (schemathesis skips its 1,800 cases)."""
    zones = QuietHours.model_json_schema()["properties"]["timezone"]["enum"]
    assert len(zones) > 300
    for zone in zones:
        assert QuietHours(start=time(22), end=time(7), timezone=zone).timezone == zone
