"""BIO tags -> entity spans with char offsets into the original text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int
    score: float


def word_spans(
    offsets: Sequence[tuple[int, int]], word_ids: Sequence[int | None]
) -> list[tuple[int, int, int]]:
    """(first token index, char start, char end) of each pre-tokenizer word, in order."""
    words: list[tuple[int, int, int]] = []
    last: int | None = None
    for j, ((s, e), w) in enumerate(zip(offsets, word_ids, strict=False)):
        if w is None or e <= s:
            continue
        if w != last:
            words.append((j, s, e))
            last = w
        else:
            first, start, _ = words[-1]
            words[-1] = (first, start, e)
    return words


def decode_spans(
    token_probs: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    tags: Sequence[str],
) -> list[Span]:
    """Word-level BIO decoding (each word's first sub-token decides). An `I-X` that does not continue
    an `X` entity starts one; the score is the mean tag probability over the entity's words."""
    spans: list[Span] = []
    cur: tuple[str, int, int, list[float]] | None = None
    for first, start, end in word_spans(offsets, word_ids):
        k = int(token_probs[first].argmax())
        tag, p = tags[k], float(token_probs[first, k])
        kind = tag[2:] if tag != "O" else ""
        if cur is not None and tag.startswith("I-") and cur[0] == kind:
            cur = (kind, cur[1], end, [*cur[3], p])
            continue
        if cur is not None:
            spans.append(Span(cur[0], cur[1], cur[2], float(np.mean(cur[3]))))
            cur = None
        if kind:
            cur = (kind, start, end, [p])
    if cur is not None:
        spans.append(Span(cur[0], cur[1], cur[2], float(np.mean(cur[3]))))
    return spans
