"""Batched forward over features for evaluation: class probabilities, word-level BIO tags, and the
pooled inputs of the entity head over gold entity spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from pipeline.model.heads import entity_inputs
from pipeline.model.network import NewsModel
from pipeline.model.predictor import token_span
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
    """Per entity example: the entity head's inputs (`span`, `sentence` [N, H], float32 CPU), the
    headline sentiment probabilities of its text [N, S], and whether its span survived truncation."""

    span: torch.Tensor
    sentence: torch.Tensor
    headline: np.ndarray
    covered: np.ndarray


@torch.inference_mode()
def entity_pass(
    model: NewsModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[EntityExample],
    max_length: int,
    batch_size: int = 64,
) -> EntityPass:
    """One encoder pass per distinct text; every example's gold span pooled from those states."""
    model.eval()
    device = next(model.parameters()).device
    texts = list(dict.fromkeys(e.text for e in examples))
    index = {t: i for i, t in enumerate(texts)}
    toks = tokenize(tokenizer, texts, max_length)
    spans = [token_span(toks[index[e.text]].offsets, e.start, e.end) for e in examples]
    of_text: dict[int, list[int]] = {}
    for k, e in enumerate(examples):
        of_text.setdefault(index[e.text], []).append(k)
    hidden_size = int(model.encoder.config.hidden_size)
    span_out = torch.zeros((len(examples), hidden_size))
    sent_out = torch.zeros((len(examples), hidden_size))
    headline = np.zeros((len(examples), len(model.labels.sentiment)), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(toks[i].input_ids))
    pad_id = int(tokenizer.pad_token_id or 0)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        enc = collate([toks[i] for i in idx], pad_id).to(device)
        out = model(enc.input_ids, enc.attention_mask, enc.casing_ids)
        probs = torch.softmax(out.sentiment_logits.float(), -1).cpu().numpy()
        rows: list[tuple[int, int, int, int]] = []
        for pos, i in enumerate(idx):
            for k in of_text[i]:
                headline[k] = probs[pos]
                span = spans[k]
                if span is not None:
                    rows.append((k, pos, *span))
        if rows:
            t = torch.tensor([r[1:] for r in rows], dtype=torch.long, device=device)
            sp, se = entity_inputs(out.hidden, enc.attention_mask, t)
            ks = torch.tensor([r[0] for r in rows])
            span_out[ks] = sp.float().cpu()
            sent_out[ks] = se.float().cpu()
    return EntityPass(span_out, sent_out, headline, np.array([s is not None for s in spans], dtype=bool))
