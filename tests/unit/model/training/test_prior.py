"""The neutral prior correction: the grid offset with the best dev accuracy, smallest on ties, written
into the sentiment head's bias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pipeline.model.training.prior import BIAS_KEY, apply_neutral_offset, best_offset


def test_best_offset_recovers_neutral_items_a_polar_prior_took() -> None:
    # three neutral items scored slightly polar, one polar item that a large offset would flip
    log_probs = np.log(np.array([[0.5, 0.4, 0.1], [0.1, 0.4, 0.5], [0.45, 0.35, 0.2], [0.1, 0.2, 0.7]]))
    gold = np.array([1, 1, 1, 2])
    assert best_offset(log_probs, gold, neutral=1) == 0.5  # all three need > 0.25; the fourth flips past 1.25
    assert best_offset(log_probs, np.array([0, 2, 0, 2]), neutral=1) == 0.0  # ties and losses: no offset


def test_apply_neutral_offset_changes_only_that_bias(tmp_path: Path) -> None:
    save_file(
        {BIAS_KEY: torch.tensor([0.1, 0.2, 0.3], dtype=torch.float16), "x": torch.ones(2)},
        str(tmp_path / "weights.safetensors"),
    )
    apply_neutral_offset(tmp_path, neutral=1, offset=1.0)
    w = load_file(str(tmp_path / "weights.safetensors"))
    assert torch.allclose(w[BIAS_KEY].float(), torch.tensor([0.1, 1.2, 0.3]), atol=1e-3)
    assert w[BIAS_KEY].dtype == torch.float16 and torch.equal(w["x"], torch.ones(2))
