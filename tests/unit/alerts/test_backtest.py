"""The event-driven backtest gives exactly what ticking every step gives (events and final
states), on generated data with bursts, every rule kind and off-grid bounds, while evaluating far
fewer ticks; output files are deterministic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.backtest import backtest_every_tick, backtest_rows, tick_grid
from alerts.backtest_report import to_csv, to_json
from alerts.rules import parse_rules
from alerts.stats_memory import ScoredRow, to_us

START = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=60)
RULES = parse_rules(
    """
version: 1
rules:
  - {name: neg, kind: negative_spike, window: 10m, baseline: 2h, min_count: 3, min_negative_share: 0.5,
     min_z: 1.0, for: 2, keep_firing_for: 5m, repeat_interval: 20m}
  - {name: neg-ticker, kind: negative_spike, group_by: [topic, ticker], window: 30m, baseline: 6h,
     min_count: 2, min_negative_share: 0.5, min_z: 0.5, for: 1, keep_firing_for: 0s, repeat_interval: 1h}
  - {name: volume, kind: volume_spike, window: 10m, baseline: 3h, min_count: 4, min_ratio: 2.0,
     min_z: 1.0, for: 3, keep_firing_for: 2m, repeat_interval: 15m}
  - {name: drop, kind: sentiment_drop, window: 1h, baseline: 7d, same_hour_of_week: true, min_count: 2,
     min_drop: 0.2, min_z: 0.5, for: 1, keep_firing_for: 10m, repeat_interval: 30m}
"""
)


def history(seed_rows: list[tuple[int, int, int, bool, int, int]]) -> list[ScoredRow]:
    """A calm background over 8 days plus the generated rows (minute, second, topic, negative,
    score/64, ticker) in the backtested day."""
    rows = []
    for k in range(0, 8 * 24 * 60, 17):  # one article every 17 minutes, a week back
        at = START - timedelta(days=7) + timedelta(minutes=k, seconds=k % 60)
        rows.append(ScoredRow(to_us(at), ("Macro", "Earnings")[k % 2], k % 5 == 0, (k % 9 - 4) / 8,
                              ("ACME",) if k % 3 == 0 else (), "m1"))
    for minute, second, topic, negative, score, ticker in seed_rows:
        at = START + timedelta(minutes=minute, seconds=second)
        tickers = (("ACME", "GLBX")[ticker - 1],) if ticker else ()
        rows.append(ScoredRow(to_us(at), ("Macro", "Earnings")[topic], negative, score / 64, tickers, "m1"))
    return sorted(rows, key=lambda r: r.at)


burst_rows = st.lists(
    st.tuples(
        st.integers(0, 600), st.integers(0, 59), st.integers(0, 1), st.booleans(), st.integers(-64, 64),
        st.integers(0, 2),
    ),
    max_size=120,
)


def assert_same(rows: list[ScoredRow], start: datetime, end: datetime) -> None:
    fast = backtest_rows(rows, RULES, "m1", start, end, STEP)
    slow = backtest_every_tick(rows, RULES, "m1", start, end, STEP)
    assert [e.event for e in fast.events] == [e.event for e in slow.events]
    assert [(e.event_id, e.reason) for e in fast.events] == [(e.event_id, e.reason) for e in slow.events]
    assert fast.states == slow.states
    assert fast.ticks == slow.ticks
    return fast, slow  # type: ignore[return-value]


@settings(max_examples=25, deadline=None)
@given(burst_rows, st.integers(0, 59), st.integers(0, 59))
def test_event_driven_equals_every_tick(seed: list, start_s: int, end_s: int) -> None:
    rows = history(seed)
    assert_same(rows, START + timedelta(seconds=start_s), START + timedelta(hours=11, seconds=end_s))


def test_bursts_fire_and_resolve_and_far_fewer_ticks_are_evaluated() -> None:
    seed = [(120 + m, 5, 0, True, -40, 1) for m in range(12)] + [(300 + m // 3, 20 * (m % 3), 1, m % 4 != 0, -30, 0)
                                                                  for m in range(40)]
    rows = history(seed)
    fast, slow = assert_same(rows, START, START + timedelta(hours=11))  # type: ignore[misc]
    kinds = {(e.event.rule, e.event.status) for e in fast.events}
    assert {("neg", "firing"), ("neg", "resolved"), ("neg-ticker", "firing"), ("volume", "firing")} <= kinds
    assert any(e.reason.value == "repeat" for e in fast.events) or any(e.event.rule == "drop" for e in fast.events)
    assert fast.evaluated < slow.evaluated / 2


def test_ticks_are_on_the_live_grid_whatever_the_bounds() -> None:
    first, n = tick_grid(START + timedelta(seconds=7), START + timedelta(minutes=3, seconds=59), STEP)
    assert first == START + STEP and n == 3


def test_output_is_deterministic() -> None:
    rows = history([(120 + m, 5, 0, True, -40, 1) for m in range(12)])
    one = backtest_rows(rows, RULES, "m1", START, START + timedelta(hours=4), STEP, rules_text="x")
    two = backtest_rows(list(rows), RULES, "m1", START, START + timedelta(hours=4), STEP, rules_text="x")
    assert to_json(one) == to_json(two) and to_csv(one) == to_csv(two)
    doc = json.loads(to_json(one))
    assert doc["backtest"]["ticks"] == 4 * 60 + 1 and doc["alerts"]
    assert all(a["model_version"] == "m1" for a in doc["alerts"])
