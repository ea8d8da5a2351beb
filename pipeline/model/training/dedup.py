"""De-duplication on link-stripped text, and the stratified dev split."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from pipeline.model.text import strip_links
from pipeline.model.training.examples import TaggedExample, TextExample

T = TypeVar("T")


def dedup_texts(examples: Sequence[TextExample]) -> tuple[list[TextExample], int]:
    """Keep the first of each link-stripped text; drop every copy of a text with conflicting labels.
    Returns the kept examples and the number of conflicting texts dropped."""
    groups: dict[str, list[TextExample]] = defaultdict(list)
    for ex in examples:
        key = strip_links(ex.text)
        if key:
            groups[key].append(ex)
    kept = [g[0] for g in groups.values() if len({e.label for e in g}) == 1]
    return kept, sum(1 for g in groups.values() if len({e.label for e in g}) > 1)


def dedup_tagged(examples: Sequence[TaggedExample]) -> list[TaggedExample]:
    """Keep the first of each identical (words, tags) sentence."""
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    out: list[TaggedExample] = []
    for ex in examples:
        key = (ex.words, ex.tags)
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def stratified_split(
    items: Sequence[T], key: Callable[[T], Hashable], dev_fraction: float, seed: int
) -> tuple[list[T], list[T]]:
    """Split so each stratum (e.g. (source, label)) keeps its share in dev; at least one dev item
    per stratum of two or more."""
    strata: dict[Hashable, list[T]] = defaultdict(list)
    for it in items:
        strata[key(it)].append(it)
    rng = random.Random(seed)
    train: list[T] = []
    dev: list[T] = []
    for k in sorted(strata, key=repr):
        group = strata[k][:]
        rng.shuffle(group)
        n_dev = max(1, round(len(group) * dev_fraction)) if len(group) > 1 else 0
        dev += group[:n_dev]
        train += group[n_dev:]
    return train, dev
