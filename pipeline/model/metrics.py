"""Task metrics: accuracy, macro-F1, expected calibration error, entity-level P/R/F1 (seqeval)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2


def accuracy(gold: Sequence[int], pred: Sequence[int]) -> float:
    return float(np.mean(np.asarray(gold) == np.asarray(pred))) if len(gold) else 0.0


def macro_f1(gold: Sequence[int], pred: Sequence[int], num_labels: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in gold or predictions."""
    g, p = np.asarray(gold), np.asarray(pred)
    scores = []
    for c in range(num_labels):
        tp = int(np.sum((g == c) & (p == c)))
        fp = int(np.sum((g != c) & (p == c)))
        fn = int(np.sum((g == c) & (p != c)))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def expected_calibration_error(gold: Sequence[int], probs: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class probability over equal-width confidence bins."""
    if len(gold) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(gold)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=False):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def entity_scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Strict IOB2 entity-level micro precision / recall / F1."""
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "precision": float(precision_score(gold, pred, **kw)),
        "recall": float(recall_score(gold, pred, **kw)),
        "f1": float(f1_score(gold, pred, **kw)),
    }


def classification_scores(gold: Sequence[int], probs: np.ndarray, num_labels: int) -> dict[str, float]:
    """Accuracy, macro-F1 and ECE from class probabilities."""
    pred = probs.argmax(axis=1).tolist() if len(gold) else []
    return {
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred, num_labels),
        "ece": expected_calibration_error(gold, probs),
        "n": float(len(gold)),
    }
