"""Isolate the items that make a batch operation fail, by bisection.

`isolate(items, attempt, is_item_fault)` runs `attempt` on the whole batch; when it raises an
error that `is_item_fault` blames on the items, the batch is split in halves and each half tried
again, down to single items. Good items end up processed in the largest groups that work; each
bad item is returned with the error it raised on its own. Every item is tried at most
`ceil(log2(n)) + 1` times (8 for a batch of 128), so a poison item costs a bounded number of
tries and never stalls the rest. Errors that are not item faults propagate at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Isolated(Generic[T, R]):
    """`done`: (group, result) per successful call; `failed`: (item, error) per bad item."""

    done: list[tuple[Sequence[T], R]] = field(default_factory=list)
    failed: list[tuple[T, Exception]] = field(default_factory=list)
    attempts: int = 0


def isolate(
    items: Sequence[T],
    attempt: Callable[[Sequence[T]], R],
    is_item_fault: Callable[[Exception], bool],
) -> Isolated[T, R]:
    """Process `items` with `attempt`, bisecting around item faults (see module docstring)."""
    out: Isolated[T, R] = Isolated()
    pending: list[Sequence[T]] = [items] if items else []
    while pending:
        group = pending.pop()
        out.attempts += 1
        try:
            out.done.append((group, attempt(group)))
        except Exception as exc:
            if not is_item_fault(exc):
                raise
            if len(group) == 1:
                out.failed.append((group[0], exc))
                continue
            middle = len(group) // 2
            pending += [group[middle:], group[:middle]]  # first half next: keeps the original order
    return out
