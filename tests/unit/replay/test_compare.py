"""Per-topic shift between two model versions: the arithmetic and the table."""

from __future__ import annotations

import json

import pytest

from pipeline.replay.compare import ALL_TOPICS, PairRow, ShiftAccumulator, format_table, to_json


def rows() -> list[PairRow]:
    return [
        PairRow("Macro", "Macro", "negative", "negative", -0.75, -0.5),
        PairRow("Macro", "Macro", "neutral", "negative", 0.0, -0.5),
        PairRow("Macro", "Earnings", "positive", "neutral", 0.5, 0.0),
        PairRow("Earnings", "Earnings", "positive", "positive", 0.5, 0.75),
    ]


def test_per_topic_counts_shares_and_means() -> None:
    shifts = {s.topic: s for s in ShiftAccumulator().extend(rows()).result()}
    macro = shifts["Macro"]
    assert macro.n == 3 and macro.changed_labels == 2 and macro.changed_topics == 1
    assert macro.changed_share == pytest.approx(2 / 3, abs=1e-6)
    assert macro.mean_score_a == pytest.approx(-0.25 / 3, abs=1e-6)
    assert macro.mean_score_b == pytest.approx(-1.0 / 3, abs=1e-6)
    assert macro.mean_delta == pytest.approx(-0.75 / 3, abs=1e-6)
    total = shifts[ALL_TOPICS]
    assert total.n == 4 and total.changed_labels == 2 and total.changed_share == 0.5
    assert total.mean_delta == pytest.approx(((-0.5 - 0.5 + 0.0 + 0.75) - (-0.75 + 0.0 + 0.5 + 0.5)) / 4)


def test_topics_are_sorted_and_all_comes_last() -> None:
    topics = [s.topic for s in ShiftAccumulator().extend(rows()).result()]
    assert topics == ["Earnings", "Macro", ALL_TOPICS]


def test_nothing_in_common_gives_a_zero_total() -> None:
    (total,) = ShiftAccumulator().result()
    assert total.topic == ALL_TOPICS and total.n == 0 and total.mean_delta == 0


def test_table_and_json() -> None:
    shifts = ShiftAccumulator().extend(rows()).result()
    table = format_table(shifts, "v1", "v2")
    lines = table.splitlines()
    assert lines[0] == "A = v1   B = v2"
    assert lines[1].split()[:2] == ["topic", "n"]
    assert "66.7%" in table and lines[-1].startswith("ALL")
    assert len({len(line) for line in lines[1:]}) == 1  # aligned
    doc = json.loads(to_json(shifts, "v1", "v2"))
    assert doc["a"] == "v1" and [t["topic"] for t in doc["topics"]] == ["Earnings", "Macro", "ALL"]
