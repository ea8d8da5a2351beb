"""A neutral-class prior correction for the sentiment head, chosen on the sentiment dev split.

The formal-news sets annotate polar expressions, so their sentences are nearly all polar: a
checkpoint trained on them learns "formal sentence, so polar" and calls factual wire sentences
positive or negative. One offset added to the neutral logit of the sentiment head (the same head
scores texts and, in the entity fallback, sentences) undoes that selection bias: the offset, from a
fixed grid, that makes the sentiment dev split (tweets, SEntFiN, SemEval, FiQA) most accurate; ties
go to the smaller offset. It is written into the head's bias, so serving needs no extra step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file

from pipeline.model.checkpoint import WEIGHTS, load_model
from pipeline.model.evaluate import run_features
from pipeline.model.training.examples import TextExample
from pipeline.model.training.features import text_features

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
BIAS_KEY = "sentiment_head.out.bias"


def best_offset(
    log_probs: np.ndarray, gold: np.ndarray, neutral: int, grid: tuple[float, ...] = GRID
) -> float:
    """The grid offset on the neutral log-probability with the highest accuracy (smallest on ties)."""

    def accuracy(b: float) -> float:
        z = log_probs.copy()
        z[:, neutral] += b
        return float((z.argmax(axis=1) == gold).mean())

    return max(grid, key=lambda b: (accuracy(b), -b))


def choose_neutral_offset(checkpoint: Path, dev: list[TextExample]) -> dict[str, Any]:
    """The offset for `checkpoint`'s sentiment head on `dev`, with the dev accuracy before and after."""
    loaded = load_model(checkpoint)
    model, names = loaded.model, loaded.model.labels.sentiment
    index = {n: i for i, n in enumerate(names)}
    feats = text_features(
        loaded.tokenizer, [e for e in dev if e.label in index], index, loaded.spec.max_length
    )
    probs = np.stack(run_features(model, feats, "sentiment", int(loaded.tokenizer.pad_token_id or 0)))
    log_probs, gold = np.log(probs + 1e-9), np.array([f.label for f in feats])
    neutral = index["neutral"]
    offset = best_offset(log_probs, gold, neutral)
    shifted = log_probs.copy()
    shifted[:, neutral] += offset
    return {
        "neutral_logit_offset": offset,
        "dev_accuracy_before": float((log_probs.argmax(axis=1) == gold).mean()),
        "dev_accuracy_after": float((shifted.argmax(axis=1) == gold).mean()),
        "rule": f"offset from {list(GRID)} that maximises sentiment dev accuracy (smallest on ties)",
    }


def apply_neutral_offset(checkpoint: Path, neutral: int, offset: float) -> None:
    """Add `offset` to the neutral logit's bias in the checkpoint's head weights (in place)."""
    if offset == 0.0:
        return
    weights = load_file(str(checkpoint / WEIGHTS))
    bias = weights[BIAS_KEY].float()
    bias[neutral] += offset
    weights[BIAS_KEY] = bias.to(weights[BIAS_KEY].dtype)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(checkpoint / WEIGHTS))
