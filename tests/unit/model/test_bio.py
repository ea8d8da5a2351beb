import numpy as np

from pipeline.model.bio import decode_spans, word_spans
from pipeline.model.labels import bio_tags

TAGS = bio_tags()


def probs_for(tag_names: list[str]) -> np.ndarray:
    out = np.full((len(tag_names), len(TAGS)), 0.01)
    for i, t in enumerate(tag_names):
        out[i, TAGS.index(t)] = 0.9
    return out


def test_word_spans_merge_subtokens() -> None:
    offsets = [(0, 0), (0, 3), (4, 6), (6, 10), (0, 0)]
    assert word_spans(offsets, [None, 0, 1, 1, None]) == [(1, 0, 3), (2, 4, 10)]


def test_bio_to_char_spans() -> None:
    text = "Tim Cook runs Apple Inc. in New York"
    # words: Tim Cook runs Apple Inc . in New York  (one token each; "." its own word)
    words = [(0, 3), (4, 8), (9, 13), (14, 19), (20, 23), (23, 24), (25, 27), (28, 31), (32, 36)]
    offsets = [(0, 0), *words, (0, 0)]
    word_ids = [None, *range(len(words)), None]
    tags = ["O", "B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "O"]
    spans = decode_spans(probs_for(tags), offsets, word_ids, TAGS)
    assert [(s.label, text[s.start : s.end]) for s in spans] == [
        ("PER", "Tim Cook"),
        ("ORG", "Apple Inc."),
        ("LOC", "New York"),
    ]
    assert all(0.0 < s.score <= 1.0 for s in spans)


def test_stray_inside_tag_starts_an_entity_and_type_change_splits() -> None:
    offsets = [(0, 0), (0, 1), (2, 3), (4, 5), (0, 0)]
    tags = ["O", "I-ORG", "I-PER", "I-PER", "O"]
    spans = decode_spans(probs_for(tags), offsets, [None, 0, 1, 2, None], TAGS)
    assert [(s.label, s.start, s.end) for s in spans] == [("ORG", 0, 1), ("PER", 2, 5)]
