"""The offset search: first offset at a timestamp, and the check of a broker's answer."""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st

from pipeline.replay.offsets import answer_is_right, first_offset_at

timestamps = st.lists(st.integers(min_value=0, max_value=50), max_size=200).map(sorted)


class Counting:
    def __init__(self, ts: list[int], base: int = 0) -> None:
        self.ts, self.base, self.calls = ts, base, 0

    def __call__(self, offset: int) -> int:
        self.calls += 1
        return self.ts[offset - self.base]


@given(ts=timestamps, target=st.integers(min_value=-5, max_value=60), base=st.integers(min_value=0, max_value=1000))
def test_returns_the_first_offset_at_or_after_the_target(ts: list[int], target: int, base: int) -> None:
    probe = Counting(ts, base)
    found = first_offset_at(probe, base, base + len(ts), target)
    assert found == base + bisect.bisect_left(ts, target)
    assert all(t < target for t in ts[: found - base])
    assert found == base + len(ts) or ts[found - base] >= target
    assert probe.calls <= max(len(ts), 1).bit_length() + 1


def test_duplicates_resolve_to_the_first_of_the_run() -> None:
    ts = [1, 2, 2, 2, 2, 5, 5, 9]
    assert first_offset_at(Counting(ts), 0, len(ts), 2) == 1
    assert first_offset_at(Counting(ts), 0, len(ts), 5) == 5
    assert first_offset_at(Counting(ts), 0, len(ts), 3) == 5
    assert first_offset_at(Counting(ts), 0, len(ts), 10) == len(ts)
    assert first_offset_at(Counting(ts), 0, len(ts), 0) == 0


def test_empty_range_returns_its_end() -> None:
    assert first_offset_at(Counting([]), 7, 7, 100) == 7


@given(ts=timestamps.filter(bool), target=st.integers(min_value=0, max_value=50), data=st.data())
def test_only_the_true_answer_passes_the_check(ts: list[int], target: int, data: st.DataObject) -> None:
    answer = data.draw(st.integers(min_value=0, max_value=len(ts) - 1))
    truth = bisect.bisect_left(ts, target)
    assert answer_is_right(Counting(ts), answer, 0, target) == (answer == truth)


def test_tansu_style_answer_is_rejected() -> None:
    """Tansu answers with broker append time: offset 0 for any target in the past."""
    ts = [1_000, 2_000, 3_000, 4_000]
    assert not answer_is_right(Counting(ts), 0, 0, 2_500)
    assert answer_is_right(Counting(ts), 2, 0, 2_500)
