"""Batched forward over features for evaluation: class probabilities and word-level BIO tags."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pipeline.model.network import NewsModel
from pipeline.model.tokens import collate
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
