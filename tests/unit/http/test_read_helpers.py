"""Pure pieces of the read API: cursors, parameters, the event clock, explanations, redirects,
and the vendored chart library against its recorded checksums."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given
from hypothesis import strategies as st

from alerts.duration_text import duration_pattern
from alerts.explain import explain, span
from alerts.rules import parse_rules
from pipeline.read.cursor import CURSOR_PATTERN, CursorError, Keyset, decode_cursor, encode_cursor
from pipeline.read.scope import event_clock
from pipeline.read.timeline import aligned_range
from workers.http import params
from workers.http.pages import STATIC
from workers.http.routes.login import local_path

T0 = datetime(2026, 11, 27, 13, 8, 30, tzinfo=UTC)


@given(
    at=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)),  # noqa: DTZ001
    row=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_a_cursor_round_trips_and_matches_its_documented_pattern(at: datetime, row: int) -> None:
    token = encode_cursor(Keyset(at, row))
    assert re.fullmatch(CURSOR_PATTERN, token)
    assert decode_cursor(token) == Keyset(at, row)


@given(token=st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_cursor_the_document_allows_is_a_position(token: str) -> None:
    key = decode_cursor(token)  # clamped into the representable range, never refused
    assert key.at.tzinfo is not None and 0 <= key.id < 2**63


@given(token=st.text(max_size=60))
def test_any_other_string_is_refused(token: str) -> None:
    if re.fullmatch(CURSOR_PATTERN, token):
        return
    with pytest.raises(CursorError):
        decode_cursor(token)


def test_the_event_clock_is_the_newest_minute_capped_at_the_wall() -> None:
    wall = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert event_clock(T0, wall) == datetime(2026, 11, 27, 13, 9, tzinfo=UTC)
    assert event_clock(wall - timedelta(seconds=5), wall) == wall
    assert event_clock(None, wall) == wall


def test_instants_and_durations() -> None:
    assert params.instant("from", "2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    assert params.instant("from", "2026-11-27T14:08:30+01:00") == T0
    assert params.duration("window", "1h30m", low=timedelta(minutes=1), high=timedelta(days=1)) == timedelta(minutes=90)
    # every RFC 3339 date-time is read; beyond [EARLIEST, LATEST) it is clamped (the same rows)
    assert params.instant("to", "9999-12-31T23:59:59-23:59") == params.LATEST - timedelta(microseconds=1)
    assert params.instant("from", "0001-01-01T00:00:00+23:59") == params.EARLIEST
    assert params.instant("from", "1066-10-14T00:00:00Z") == params.EARLIEST
    for call in (
        lambda: params.instant("from", "tomorrow"),
        lambda: params.instant("from", ""),
        lambda: params.duration("window", "40d", low=timedelta(minutes=1), high=timedelta(days=30)),
        lambda: params.text("q", "a\x00b"),
        lambda: params.text("q", "   "),
    ):
        with pytest.raises(RequestValidationError):
            call()


@pytest.mark.parametrize(
    ("low", "high"), [(timedelta(minutes=1), timedelta(days=30)), (timedelta(seconds=1), timedelta(days=31))]
)
def test_the_documented_duration_pattern_is_exactly_the_one_unit_durations_in_range(
    low: timedelta, high: timedelta
) -> None:
    pattern = re.compile(duration_pattern(low, high))
    for unit, size in (("s", 1), ("m", 60), ("h", 3600), ("d", 86400)):
        for n in [*range(0, 130), *range(high // timedelta(seconds=size) - 5, high // timedelta(seconds=size) + 5)]:
            inside = low <= timedelta(seconds=n * size) <= high
            assert bool(pattern.fullmatch(f"{n}{unit}")) == inside, f"{n}{unit}"
            if inside:  # what the document allows, the server reads
                assert params.duration("d", f"{n}{unit}", low=low, high=high) == timedelta(seconds=n * size)


def test_timeline_ranges_widen_to_whole_buckets() -> None:
    first, last = aligned_range(T0, T0 + timedelta(hours=2), timedelta(hours=1))
    assert (first, last) == (datetime(2026, 11, 27, 13, tzinfo=UTC), datetime(2026, 11, 27, 16, tzinfo=UTC))


def test_the_explanation_says_why_in_words_and_figures() -> None:
    rule = parse_rules(
        "version: 1\nrules:\n  - {name: desk, kind: negative_spike, window: 30m, baseline: 1d, min_count: 5,"
        " min_negative_share: 0.6, min_z: 2, for: 2}\n"
    ).rules[0]
    text = explain(
        kind="negative_spike",
        topic="Earnings",
        status="firing",
        figures={"count": 9, "negative": 7, "negative_share": 7 / 9, "baseline_count": 200,
                 "baseline_negative": 40, "baseline_negative_share": 0.2, "z": 3.51, "p_value": 0.00022},
        window_start=T0 - timedelta(minutes=30),
        window_end=T0,
        labels={"topic": "Earnings", "ticker": "ACME"},
        rule=rule,
    )
    assert text.startswith("7 of 9 articles on Earnings (ACME) in the 30 min to 2026-11-27 13:08 UTC were negative (78%)")
    assert "against 20% of 200 articles" in text and "z = 3.51, p = 0.00022" in text
    assert "Rule desk fires on at least 5 articles in 30 min, at least 60% negative and z of at least 2" in text
    assert "holding for 2 evaluations" in text and span(timedelta(days=7)) == "7 d"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/topics/Macro", "/topics/Macro"), ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil", "/"), (None, "/")],
)
def test_login_redirects_stay_on_site(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


def test_the_vendored_chart_library_matches_its_recorded_checksums() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    recorded = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    uplot = {"uplot/uPlot.iife.min.js", "uplot/uPlot.min.css", "uplot/LICENSE"}
    swagger = {f"swagger-ui/{n}" for n in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE")}
    assert set(recorded) == uplot | swagger | {"swagger-ui/swagger-ui-bundle.js.LICENSE.txt"}
    for name, digest in recorded.items():
        assert hashlib.sha256((STATIC / "vendor" / Path(name)).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (STATIC / "vendor" / "uplot" / "LICENSE").read_text()
    assert "Apache License" in (STATIC / "vendor" / "swagger-ui" / "LICENSE").read_text()
