"""Casing feature per token, read from the original text (the vocabulary itself is uncased)."""

from __future__ import annotations

from collections.abc import Sequence

PAD, LOWER, INIT_CAP, ALL_CAPS, MIXED, HAS_DIGIT, PUNCT, OTHER = range(8)
NUM_CASING = 8
"""Ids: 0 special/padding, 1 all-lower, 2 init-cap, 3 all-caps, 4 mixed, 5 has-digit, 6 punctuation, 7 other."""


def casing_id(piece: str) -> int:
    """The casing class of one token's surface text."""
    if not piece:
        return PAD
    if any(c.isdigit() for c in piece):
        return HAS_DIGIT
    letters = [c for c in piece if c.isalpha()]
    if not letters:
        return PUNCT if all(not c.isalnum() and not c.isspace() for c in piece) else OTHER
    if all(c.islower() for c in letters):
        return LOWER
    if all(c.isupper() for c in letters):
        return ALL_CAPS if len(letters) > 1 else INIT_CAP
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return INIT_CAP
    return MIXED


def casing_ids(text: str, offsets: Sequence[tuple[int, int]]) -> list[int]:
    """One casing id per token; a sub-token inherits whether its word starts upper-case."""
    ids: list[int] = []
    for start, end in offsets:
        if end <= start:
            ids.append(PAD)
            continue
        cid = casing_id(text[start:end])
        if cid == LOWER and start > 0 and text[start - 1].isalnum():
            word_start = start
            while word_start > 0 and text[word_start - 1].isalnum():
                word_start -= 1
            if text[word_start].isupper():
                cid = INIT_CAP if not text[word_start:start].isupper() or start - word_start == 1 else MIXED
        ids.append(cid)
    return ids
