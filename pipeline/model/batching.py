"""Token-budget dynamic batching with length bucketing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def token_budget_batches(lengths: Sequence[int], max_tokens: int, max_batch: int) -> Iterator[list[int]]:
    """Indices grouped shortest-first so that each batch's size x longest length <= `max_tokens`
    (a single over-long item still gets a batch of its own) and at most `max_batch` items."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        width = max(lengths[i], max((lengths[j] for j in batch), default=0))
        if batch and ((len(batch) + 1) * width > max_tokens or len(batch) >= max_batch):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
