"""Text -> model inputs: token ids, char offsets into the original text, and casing ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from pipeline.model.casing import casing_ids
from pipeline.model.text import mask_text


@dataclass(frozen=True)
class Tokenized:
    """One text. `offsets[j]` is token j's (start, end) in the original text, (0, 0) for special tokens;
    `word_ids[j]` is the pre-tokenizer word token j belongs to (None for special tokens)."""

    input_ids: list[int]
    offsets: list[tuple[int, int]]
    casing_ids: list[int]
    word_ids: list[int | None]

    @property
    def content_tokens(self) -> int:
        """Tokens other than the special ones."""
        return sum(1 for s, e in self.offsets if e > s)


@dataclass(frozen=True)
class Encoded:
    """A padded batch of `Tokenized` texts, as tensors."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    casing_ids: torch.Tensor
    offsets: list[list[tuple[int, int]]]

    def to(self, device: torch.device | str) -> Encoded:
        return Encoded(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.casing_ids.to(device),
            self.offsets,
        )


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> list[Tokenized]:
    """Tokenize with links and control chars masked (same length, so offsets stay valid), truncating."""
    masked = [mask_text(t) for t in texts]
    enc = tokenizer(masked, max_length=max_length, truncation=True, return_offsets_mapping=True)
    special = set(tokenizer.all_special_ids)
    out: list[Tokenized] = []
    for k, (text, ids, offs) in enumerate(zip(masked, enc["input_ids"], enc["offset_mapping"], strict=False)):
        row = [(0, 0) if i in special else (int(s), int(e)) for i, (s, e) in zip(ids, offs, strict=False)]
        words = [None if i in special else w for i, w in zip(ids, enc.word_ids(k), strict=False)]
        out.append(Tokenized(list(ids), row, casing_ids(text, row), words))
    return out


def collate(items: Sequence[Tokenized], pad_id: int) -> Encoded:
    """Right-pad a batch to its longest member."""
    width = max(len(t.input_ids) for t in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    casing = torch.zeros((len(items), width), dtype=torch.long)
    for i, t in enumerate(items):
        n = len(t.input_ids)
        ids[i, :n] = torch.tensor(t.input_ids)
        mask[i, :n] = 1
        casing[i, :n] = torch.tensor(t.casing_ids)
    return Encoded(ids, mask, casing, [list(t.offsets) for t in items])


def encode(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> Encoded:
    """`tokenize` then `collate`."""
    return collate(tokenize(tokenizer, texts, max_length), int(tokenizer.pad_token_id or 0))
