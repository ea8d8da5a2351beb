"""Temperature-scaled task sampling and length-bucketed batches."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence

from pipeline.model.training.features import Feature


def task_probabilities(
    sizes: Mapping[str, int], temperature: float, boost: Mapping[str, float] | None = None
) -> dict[str, float]:
    """p(task) proportional to boost[task] * size ** (1 / T): T=1 proportional, T -> inf uniform;
    `boost` (default 1) shifts steps towards the tasks that learn slowest."""
    boost = boost or {}
    scaled = {k: boost.get(k, 1.0) * n ** (1.0 / temperature) for k, n in sizes.items() if n > 0}
    total = sum(scaled.values())
    return {k: v / total for k, v in scaled.items()}


def bucketed_batches(
    feats: Sequence[Feature], batch_size: int, rng: random.Random, pool_batches: int = 50
) -> Iterator[list[Feature]]:
    """Endless shuffled batches; within pools of `pool_batches` batches, items are sorted by length so
    each batch pads little."""
    while True:
        order = list(range(len(feats)))
        rng.shuffle(order)
        pool = batch_size * pool_batches
        for p in range(0, len(order), pool):
            chunk = sorted(order[p : p + pool], key=lambda i: len(feats[i].tokens.input_ids))
            batches = [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
            rng.shuffle(batches)
            for b in batches:
                yield [feats[i] for i in b]


class TaskSampler:
    """Draws (task, batch) pairs: a task by temperature-scaled probability, then its next batch."""

    def __init__(
        self,
        data: Mapping[str, Sequence[Feature]],
        batch_size: int,
        temperature: float,
        seed: int,
        sizes: Mapping[str, int] | None = None,
        boost: Mapping[str, float] | None = None,
    ) -> None:
        """`sizes` (default: the feature counts) are what the temperature is applied to."""
        self.rng = random.Random(seed)
        self.probs = task_probabilities(sizes or {k: len(v) for k, v in data.items()}, temperature, boost)
        self.tasks = sorted(self.probs)
        self.iters = {
            k: bucketed_batches(data[k], batch_size, random.Random(seed + i))
            for i, k in enumerate(self.tasks)
        }

    def __iter__(self) -> Iterator[tuple[str, list[Feature]]]:
        weights = [self.probs[t] for t in self.tasks]
        while True:
            task = self.rng.choices(self.tasks, weights)[0]
            yield task, next(self.iters[task])
