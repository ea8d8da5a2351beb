"""Examples -> token features with aligned labels (`-100` = ignored by the loss)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from pipeline.model.tokens import Tokenized, tokenize
from pipeline.model.training.examples import TaggedExample, TextExample

IGNORE = -100


@dataclass(frozen=True)
class Feature:
    """One training/eval item: tokens plus a class id (`label`) or per-token tag ids (`tags`).
    `word_starts` holds the token index of each word's first sub-token (NER evaluation); `span` the
    (first, end) tokens of the target entity (entity sentiment)."""

    tokens: Tokenized
    label: int = IGNORE
    tags: tuple[int, ...] = ()
    word_starts: tuple[int, ...] = ()
    span: tuple[int, int] | None = None


def text_features(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[TextExample],
    index: dict[str, int],
    max_length: int,
) -> list[Feature]:
    toks = tokenize(tokenizer, [e.text for e in examples], max_length)
    return [Feature(t, label=index[e.label]) for t, e in zip(toks, examples, strict=False)]


def tagged_features(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[TaggedExample],
    index: dict[str, int],
    max_length: int,
) -> list[Feature]:
    """Every sub-token is labelled: the first takes the word's tag, later ones `I-X` (or `O`).
    Words whose tokens fall past truncation get word start -1."""
    texts_spans = [e.text_and_spans() for e in examples]
    toks = tokenize(tokenizer, [t for t, _ in texts_spans], max_length)
    out: list[Feature] = []
    for ex, (_, spans), tok in zip(examples, texts_spans, toks, strict=False):
        tags = [IGNORE] * len(tok.input_ids)
        starts = [-1] * len(spans)
        w = 0
        for j, (s, e) in enumerate(tok.offsets):
            if e <= s:
                continue
            while w < len(spans) and spans[w][1] <= s:
                w += 1
            if w >= len(spans):
                break
            tag = ex.tags[w]
            if starts[w] == -1:
                starts[w] = j
                tags[j] = index[tag]
            else:
                tags[j] = index["O" if tag == "O" else "I-" + tag[2:]]
        out.append(Feature(tok, tags=tuple(tags), word_starts=tuple(starts)))
    return out
