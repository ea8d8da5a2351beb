"""`parse_duration` runs in linear time with a length cap, and accepts what the old pattern did."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules import MAX_DURATION_CHARS, parse_duration

OLD_PATTERN = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
"""The pattern this parser replaced (polynomial on spaces), kept as the oracle for short texts."""


def _old(text: str) -> timedelta | None:
    match = OLD_PATTERN.match(text)
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _new(text: str) -> timedelta | None:
    try:
        return parse_duration(text)
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        (" 1h 30m ", timedelta(minutes=90)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("\t7d\n", timedelta(days=7)),
    ],
)
def test_accepted_texts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "15", "m", "15x", "1m1h", "1h1h", "1h 30", "-1h", "1.5h", "999999999d99h", "1234567890m"])
def test_refused_texts(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@given(st.text(alphabet="0129 dhmsx\t", max_size=MAX_DURATION_CHARS))
def test_agrees_with_the_old_pattern_on_short_texts(text: str) -> None:
    assert _new(text) == _old(text)


@pytest.mark.parametrize("text", [" " * 100_000, " " * 100_000 + "x", "1h" + " " * 100_000 + "x", "1" * 100_000])
def test_long_texts_are_refused_at_once(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    assert time.perf_counter() - started < 0.05
    assert len(str(raised.value)) < 200  # the message quotes a prefix, never the whole input


def test_whitespace_runs_under_the_cap_parse_in_linear_time() -> None:
    worst = " " * (MAX_DURATION_CHARS - 1) + "x"  # the old pattern's slowest shape
    started = time.perf_counter()
    for _ in range(1_000):
        assert _new(worst) is None
    assert time.perf_counter() - started < 0.5
