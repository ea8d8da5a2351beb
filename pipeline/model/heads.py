"""The three heads on top of the shared encoder's hidden states."""

from __future__ import annotations

import torch
from torch import nn

from pipeline.model.casing import NUM_CASING


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mask-aware mean over tokens (the pooling all-MiniLM-L6-v2 was trained with)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class SequenceHead(nn.Module):
    """Mean-pooled sentence vector -> class logits (topic, sentiment)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(mean_pool(hidden, mask))))
        return self.out(self.dropout(x))


class TokenHead(nn.Module):
    """Per-token BIO logits from the hidden state concatenated with a small casing embedding."""

    def __init__(self, hidden_size: int, num_labels: int, casing_dim: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.casing = nn.Embedding(NUM_CASING, casing_dim)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size + casing_dim, hidden_size)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, casing_ids: torch.Tensor) -> torch.Tensor:
        feats = torch.cat([hidden, self.casing(casing_ids).to(hidden.dtype)], dim=-1)
        x = nn.functional.gelu(self.dense(self.dropout(feats)))
        return self.out(self.dropout(x))
