"""Backtest: in-memory window statistics agree with the engine's SQL; output is deterministic;
a planted negative burst is found at the right time."""

from __future__ import annotations

import bisect
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from alerts.rules import DEFAULT_RULES_PATH, load_rules
from alerts.stats import StatsSpec, query_stats
from pipeline.db import make_engine, store_batch
from tests.fixtures.alerts_data import MODEL_VERSION, stream
from workers.backtest import MemoryStats, _Sliding, load_rows, longest_reach, run_backtest, to_csv, to_json

START = datetime(2020, 3, 1, tzinfo=UTC)
BURST = START + timedelta(days=7, hours=10)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from pipeline.db import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('bt') / 'db.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    raws, enriched = stream(
        ["Earnings", "Macro"], START, START + timedelta(days=7, hours=14), every=timedelta(seconds=90),
        burst_topic="Earnings", burst_start=BURST, burst_end=BURST + timedelta(minutes=40),
    )
    for i in range(0, len(raws), 2_000):
        store_batch(engine, raws[i : i + 2_000], enriched[i : i + 2_000])
    return engine


def test_memory_stats_equal_the_sql_stats(history: Engine) -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    stats = MemoryStats(load_rows(history, MODEL_VERSION, START - longest_reach(rules), START + timedelta(days=9)))
    with history.connect() as conn:
        for rule in rules.rules:
            spec = StatsSpec.of(rule)
            for minutes in (-61, 0, 7, 20, 33, 90):
                now = BURST + timedelta(minutes=minutes, seconds=30)
                sql, memory = query_stats(conn, spec, MODEL_VERSION, now), stats.query(spec, now)
                assert (sql.spec, sql.now) == (memory.spec, memory.now)
                for period in ("window", "baseline"):
                    expected, got = getattr(sql, period), getattr(memory, period)
                    assert expected.keys() == got.keys()
                    for key, a in expected.items():
                        b = got[key]
                        assert (a.count, a.negative) == (b.count, b.negative)
                        assert b.score_sum == pytest.approx(a.score_sum, abs=1e-9)
                        assert b.score_sumsq == pytest.approx(a.score_sumsq, abs=1e-9)


def test_planted_burst_is_found_and_output_is_byte_identical(history: Engine, tmp_path: Path) -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    args = (history, rules, MODEL_VERSION, BURST - timedelta(hours=1), BURST + timedelta(hours=3), timedelta(seconds=30))
    first, second = run_backtest(*args), run_backtest(*args)
    assert to_json(first) == to_json(second) and to_csv(first) == to_csv(second)
    doc = json.loads(to_json(first))
    firing = [a for a in doc["alerts"] if a["status"] == "firing" and a["rule"] == "negative-spike"]
    assert [a["topic"] for a in firing] == ["Earnings"]
    fired_at = datetime.fromisoformat(firing[0]["emitted_at"])
    assert BURST < fired_at <= BURST + timedelta(minutes=20)
    assert firing[0]["figures"]["negative_share"] >= 0.5
    resolved = [a for a in doc["alerts"] if a["status"] == "resolved" and a["rule"] == "negative-spike"]
    assert resolved and datetime.fromisoformat(resolved[0]["emitted_at"]) > BURST + timedelta(minutes=40)
    assert not [a for a in doc["alerts"] if a["topic"] == "Macro"]
    assert doc["backtest"]["ticks"] == 4 * 120 + 1
    header = to_csv(first).splitlines()[0].split(",")
    assert header[:3] == ["emitted_at", "status", "rule"] and "figure_z" in header


@given(
    rows=st.lists(st.tuples(st.integers(0, 200), st.sampled_from("abc")), max_size=60),
    ticks=st.lists(st.integers(0, 260), min_size=1, max_size=30).map(sorted),
    width=st.integers(1, 80),
    floor=st.integers(1, 4),
)
def test_sliding_busy_groups_equal_a_fresh_count(
    rows: list[tuple[int, str]], ticks: list[int], width: int, floor: int
) -> None:
    rows = sorted(rows)
    times = [t for t, _ in rows]
    keys = [(("topic", k),) for _, k in rows]
    slider = _Sliding(floor)
    for now in ticks:
        i, j = bisect.bisect_left(times, now - width), bisect.bisect_left(times, now)
        slider.advance(keys, i, j)
        expected = {key for key, n in Counter(keys[i:j]).items() if n >= floor}
        assert slider.busy == expected
