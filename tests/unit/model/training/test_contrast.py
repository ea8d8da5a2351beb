"""Synthetic contrast headlines: each entity keeps its own headline's label and span."""

from __future__ import annotations

from pipeline.model.training.contrast import contrast_pairs, single_entity
from pipeline.model.training.examples import EntityExample


def ex(text: str, entity: str, label: str) -> EntityExample:
    start = text.index(entity)
    return EntityExample(text, start, start + len(entity), label, "test")


TRAIN = [
    ex("Acme rallies on record orders.", "Acme", "positive"),
    ex("Globex slumps after profit warning", "Globex", "negative"),
    ex("Initech and Hooli both fall", "Initech", "negative"),  # two entities: not a single-entity text
    ex("Initech and Hooli both fall", "Hooli", "negative"),
    ex("Umbrella steady", "Umbrella", "neutral"),
]


def test_only_single_entity_headlines_of_the_label_are_used() -> None:
    assert [e.entity for e in single_entity(TRAIN, "negative")] == ["Globex"]
    assert [e.entity for e in single_entity(TRAIN, "positive")] == ["Acme"]


def test_joined_texts_keep_each_entity_span_and_label() -> None:
    pairs = contrast_pairs(TRAIN, 20, seed=3)
    assert len(pairs) == 40
    for a, b in zip(pairs[::2], pairs[1::2], strict=True):
        assert a.text == b.text and a.source == b.source == "contrast"
        assert {(a.entity, a.label), (b.entity, b.label)} == {("Acme", "positive"), ("Globex", "negative")}
        assert a.start < b.start and "." not in a.text[: b.start].rstrip()[-1:]
    assert {p.text.index("Acme") == 0 for p in pairs} == {True, False}, "both orders occur"


def test_no_pairs_without_both_labels() -> None:
    assert contrast_pairs([e for e in TRAIN if e.label != "positive"], 5, seed=1) == []
