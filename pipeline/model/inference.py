"""Batched forward over features for evaluation: class probabilities, word-level BIO tags, and the
pooled inputs of the entity head over gold entity spans (and of the sentence holding each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from pipeline.model.network import NewsModel
from pipeline.model.predictor import token_span
from pipeline.model.sentences import sentence_of, sentence_spans
from pipeline.model.tokens import collate, tokenize
from pipeline.model.training.examples import EntityExample
from pipeline.model.training.features import Feature


@torch.inference_mode()
def run_features(
    model: NewsModel, feats: Sequence[Feature], head: str, pad_id: int, batch_size: int = 64
) -> list[np.ndarray]:
    """One result per feature: `topic`/`sentiment` -> class probabilities; `ner` -> per-token
    tag probabilities. Features are sorted by length for cheap padding; results come back in order."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(feats)), key=lambda i: len(feats[i].tokens.input_ids))
    out: list[np.ndarray] = [np.empty(0)] * len(feats)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        enc = collate([feats[i].tokens for i in idx], pad_id).to(device)
        res = model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        logits = getattr(res, f"{head}_logits").float()
        probs = torch.softmax(logits, dim=-1).cpu().numpy()
        for k, i in enumerate(idx):
            out[i] = probs[k, : len(feats[i].tokens.input_ids)] if head == "ner" else probs[k]
    return out


def word_tags(feat: Feature, token_probs: np.ndarray, tags: Sequence[str], num_words: int) -> list[str]:
    """The tag predicted at each word's first sub-token (`O` past truncation), repaired to valid IOB2."""
    out: list[str] = []
    for w in range(num_words):
        j = feat.word_starts[w] if w < len(feat.word_starts) else -1
        out.append(tags[int(token_probs[j].argmax())] if j >= 0 else "O")
    prev = "O"
    for i, t in enumerate(out):
        if t.startswith("I-") and prev[2:] != t[2:]:
            out[i] = "B-" + t[2:]
        prev = out[i]
    return out


@dataclass(frozen=True)
class EntityPass:
    """Gold entity spans over encoder states computed once per distinct text: `states[i]` [len, H]
    (CPU) of text i; per example its text (`text_of`), token span (`spans`, [N, 2], -1 where the
    span was truncated away: `covered` False), its text's sentiment probabilities [N, S] (`headline`),
    and the token span of the sentence holding the mention (`sentences`, [N, 2], as the predictor
    finds it: -1 where it lies past truncation, or where the text is one sentence: `single`, whose
    sentence is the text itself)."""

    states: list[torch.Tensor]
    text_of: np.ndarray
    spans: np.ndarray
    headline: np.ndarray
    covered: np.ndarray
    sentences: np.ndarray
    single: np.ndarray

    def batch(
        self, examples: Sequence[int], spans: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(hidden [B, L, H], mask [B, L], spans [n, 3]) of `examples` (covered ones: their entity
        spans, or rows of `spans`, e.g. `sentences`), their texts padded."""
        spans = self.spans if spans is None else spans
        texts = list(dict.fromkeys(int(self.text_of[k]) for k in examples))
        pos = {t: i for i, t in enumerate(texts)}
        width = max(self.states[t].shape[0] for t in texts)
        hidden = torch.zeros((len(texts), width, self.states[texts[0]].shape[1]))
        mask = torch.zeros((len(texts), width), dtype=torch.long)
        for i, t in enumerate(texts):
            n = self.states[t].shape[0]
            hidden[i, :n] = self.states[t].float()
            mask[i, :n] = 1
        rows = [(pos[int(self.text_of[k])], int(spans[k, 0]), int(spans[k, 1])) for k in examples]
        return hidden, mask, torch.tensor(rows, dtype=torch.long).reshape(-1, 3)


@torch.inference_mode()
def entity_pass(
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[EntityExample],
    max_length: int,
    batch_size: int = 64,
    dtype: torch.dtype = torch.float16,
) -> EntityPass:
    """One encoder pass per distinct text; its states are kept (in `dtype`) with every example's span."""
    model.eval()
    device = next(model.parameters()).device
    texts = list(dict.fromkeys(e.text for e in examples))
    index = {t: i for i, t in enumerate(texts)}
    toks = tokenize(tokenizer, texts, max_length)
    found = [token_span(toks[index[e.text]].offsets, e.start, e.end) for e in examples]
    states: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    text_probs = np.zeros((len(texts), len(model.labels.sentiment)), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(toks[i].input_ids))
    pad_id = int(tokenizer.pad_token_id or 0)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        enc = collate([toks[i] for i in idx], pad_id).to(device)
        out = model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        text_probs[idx] = torch.softmax(out.sentiment_logits.float(), -1).cpu().numpy()
        for pos, i in enumerate(idx):
            states[i] = out.hidden[pos, : len(toks[i].input_ids)].to("cpu", dtype).clone()
    text_of = np.array([index[e.text] for e in examples], dtype=np.int64)
    covered = np.array([s is not None for s in found], dtype=bool)
    split = [sentence_spans(t) for t in texts]
    single = np.array([len(split[index[e.text]]) <= 1 for e in examples], dtype=bool)
    held = [
        None if one else token_span(toks[i].offsets, *split[i][sentence_of(split[i], e.start)])
        for e, one, i in zip(examples, single, text_of, strict=True)
    ]
    return EntityPass(states, text_of, _rows(found), text_probs[text_of], covered, _rows(held), single)


def _rows(spans: Sequence[tuple[int, int] | None]) -> np.ndarray:
    """[N, 2] token spans, (-1, -1) for None."""
    return np.array([s if s is not None else (-1, -1) for s in spans], dtype=np.int64).reshape(-1, 2)
