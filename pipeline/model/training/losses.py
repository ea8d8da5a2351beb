"""Per-task losses: class weighting and fixed / learned (uncertainty) task weighting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import torch
from torch import nn


def class_weights(labels: Sequence[int], num_labels: int, power: float = 0.5) -> torch.Tensor:
    """Inverse-frequency ** power weights, normalised to mean 1 over the training distribution."""
    counts = Counter(labels)
    w = torch.tensor([(counts.get(c, 0) or 1) ** -power for c in range(num_labels)], dtype=torch.float)
    freq = torch.tensor([counts.get(c, 0) for c in range(num_labels)], dtype=torch.float)
    return w / ((w * freq).sum() / freq.sum())


class TaskWeighting(nn.Module):
    """Combines a task's loss with its fixed weight, and optionally a learned homoscedastic-uncertainty
    weight (Kendall et al. 2018): w * (exp(-s) * L + s), with s = log sigma^2 learned per task."""

    def __init__(self, fixed: Mapping[str, float], learned: bool) -> None:
        super().__init__()
        self.fixed = dict(fixed)
        self.learned = learned
        self.log_vars = (
            nn.ParameterDict({k: nn.Parameter(torch.zeros(())) for k in fixed}) if learned else None
        )

    def forward(self, task: str, loss: torch.Tensor) -> torch.Tensor:
        w = self.fixed.get(task, 1.0)
        if self.log_vars is None:
            return w * loss
        s = self.log_vars[task]
        return w * (torch.exp(-s) * loss + s)
