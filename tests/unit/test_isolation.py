"""Bisection around item faults: good items processed in groups, bad ones returned, tries bounded."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.isolation import isolate


class Refuses:
    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.tries: dict[int, int] = {}

    def __call__(self, group: Sequence[int]) -> int:
        for value in group:
            self.tries[value] = self.tries.get(value, 0) + 1
        if self.bad & set(group):
            raise ValueError(f"refused {sorted(self.bad & set(group))}")
        return len(group)


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_every_item_ends_done_or_failed_once_with_bounded_tries(case: tuple[int, set[int]]) -> None:
    n, bad = case
    attempt = Refuses(bad)
    result = isolate(list(range(n)), attempt, is_item_fault=lambda exc: isinstance(exc, ValueError))
    done = [value for group, _ in result.done for value in group]
    assert sorted(done) == [v for v in range(n) if v not in bad]
    assert sorted(v for v, _ in result.failed) == sorted(bad)
    assert all(f"refused [{v}]" in str(exc) for v, exc in result.failed)
    assert max(attempt.tries.values()) <= math.ceil(math.log2(n)) + 1
    assert done == sorted(done), "good items keep their order"


def test_a_fault_that_is_not_the_items_propagates() -> None:
    def broken(group: Sequence[int]) -> int:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        isolate([1, 2, 3], broken, is_item_fault=lambda exc: isinstance(exc, ValueError))


def test_no_items_no_attempt() -> None:
    assert isolate([], Refuses(set()), is_item_fault=lambda exc: True).attempts == 0
