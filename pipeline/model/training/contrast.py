"""Synthetic contrast headlines for the entity-sentiment task: two train headlines, each naming one
entity, one positive and one negative, joined into one text ("A rallies on X; B slumps on Y"), each
entity keeping its own headline's label.

SEntFiN's real headlines with a positive and a negative entity are few (about 8 % of entities), and
there the head leans on the headline's overall tone; the joined texts make the entity's own clause
the only signal. Built from the train split only, so the dev split stays unseen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pipeline.model.training.examples import EntityExample

JOINERS = ("; ", ", while ", " as ", " - ")
SOURCE = "contrast"


def single_entity(examples: Sequence[EntityExample], label: str) -> list[EntityExample]:
    """Examples with `label` whose text names no other entity, the entity inside the stripped text."""
    count: dict[str, int] = {}
    for e in examples:
        count[e.text] = count.get(e.text, 0) + 1
    return [
        e for e in examples if e.label == label and count[e.text] == 1 and e.end <= len(e.text.rstrip(" ."))
    ]


def contrast_pairs(examples: Sequence[EntityExample], n: int, seed: int) -> list[EntityExample]:
    """`n` joined texts (2 examples each) from single-entity positive and negative headlines."""
    positive, negative = single_entity(examples, "positive"), single_entity(examples, "negative")
    if not positive or not negative:
        return []
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        first, second = rng.choice(positive), rng.choice(negative)
        if rng.random() < 0.5:
            first, second = second, first
        head = first.text.rstrip(" .")
        joiner = rng.choice(JOINERS)
        offset = len(head) + len(joiner)
        text = head + joiner + second.text
        out.append(EntityExample(text, first.start, first.end, first.label, SOURCE))
        out.append(EntityExample(text, second.start + offset, second.end + offset, second.label, SOURCE))
    return out
