"""Watchlist specs (validation, normalisation, parsing) and the send-or-suppress policy."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from alerts.receivers import Receiver
from alerts.watchlists.model import QuietHours, RateLimit, SentimentCondition, WatchlistSpec, format_duration
from alerts.watchlists.policy import suppression, targets
from tests.fixtures.watchlists import watchlist


def test_spec_normalises_keys_and_refuses_what_cannot_match() -> None:
    spec = WatchlistSpec(
        name="desk", owner="pm", tickers=("$aapl", "AAPL", " msft "), entities=("Apple  Inc", "apple inc"),
        receivers=("desk", "desk"),
    )
    assert spec.tickers == ("AAPL", "MSFT")
    assert spec.entities == ("Apple Inc",) and spec.entity_keys == {"apple inc"}
    assert spec.receivers == ("desk",)
    with pytest.raises(ValidationError, match="at least one ticker"):
        WatchlistSpec(name="empty", owner="pm")
    # bounds that cross are accepted (the OpenAPI document cannot state the refusal) and match nothing
    assert SentimentCondition(min_score=0.5, max_score=-0.5).describe() == "score <= -0.5 and score >= 0.5"
    with pytest.raises(ValidationError, match="control characters"):
        WatchlistSpec(name="x", owner="pm", entities=("Apple\x00",))
    with pytest.raises(ValidationError, match="unknown time zone"):
        QuietHours(start=time(22), end=time(7), timezone="Mars/Olympus")


def test_rate_limit_and_quiet_hours_parse_and_print_back() -> None:
    limit = RateLimit.parse("10/1h30m")
    assert (limit.max_notices, limit.per) == (10, timedelta(minutes=90))
    assert RateLimit.model_validate(limit.model_dump(mode="json")) == limit
    assert format_duration(timedelta(days=1, seconds=5)) == "1d5s"
    for bad in ("10", "x/1h", "0/1h", "5/0s", "5/40d"):
        with pytest.raises(ValueError):
            RateLimit.parse(bad)
    quiet = QuietHours.parse("22:00-07:00", "Europe/Paris")
    assert (quiet.start, quiet.end) == (time(22), time(7))
    with pytest.raises(ValueError):
        QuietHours.parse("22:00")


def test_quiet_hours_wrap_midnight_in_their_zone() -> None:
    paris = QuietHours(start=time(22), end=time(7), timezone="Europe/Paris")  # UTC+1 in winter
    assert paris.contains(datetime(2026, 1, 10, 21, 0, tzinfo=UTC))  # 22:00 in Paris: starts
    assert not paris.contains(datetime(2026, 1, 10, 20, 59, tzinfo=UTC))
    assert paris.contains(datetime(2026, 1, 11, 5, 59, tzinfo=UTC))  # 06:59
    assert not paris.contains(datetime(2026, 1, 11, 6, 0, tzinfo=UTC))  # 07:00: over
    lunch = QuietHours(start=time(12), end=time(13))
    assert lunch.contains(datetime(2026, 1, 10, 12, 30, tzinfo=UTC))
    assert not lunch.contains(datetime(2026, 1, 10, 13, 0, tzinfo=UTC))


def test_suppression_order_quiet_hours_then_receiver_then_rate_limit() -> None:
    noon = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)
    w = watchlist(1, tickers=("AAPL",), quiet_hours=QuietHours(start=time(12), end=time(13)),
                  rate_limit=RateLimit(max_notices=2, per="1h"))
    counted: list[int] = []

    def recent(n: int) -> int:
        counted.append(n)
        return n

    assert suppression(w, noon, has_receiver=True, queued_recently=lambda: recent(5)) == "quiet_hours"
    assert counted == []  # a quiet-hours drop does not even look at (or use up) the rate limit
    later = noon + timedelta(hours=1)
    assert suppression(w, later, has_receiver=False, queued_recently=lambda: recent(0)) == "no_receiver"
    assert suppression(w, later, has_receiver=True, queued_recently=lambda: recent(1)) is None
    assert suppression(w, later, has_receiver=True, queued_recently=lambda: recent(2)) == "rate_limit"


def test_targets_are_the_named_configured_receivers_or_all() -> None:
    receivers = {
        n: Receiver(name=n, url=f"https://hooks.example.com/{n}", secret=SecretStr("s")) for n in ("chat", "desk")
    }
    assert [r.name for r in targets(watchlist(1, tickers=("A",)), receivers)] == ["chat", "desk"]
    assert [r.name for r in targets(watchlist(1, tickers=("A",), receivers=("desk", "gone")), receivers)] == ["desk"]
    assert targets(watchlist(1, tickers=("A",), receivers=("gone",)), receivers) == []
