"""The heads on top of the shared encoder's hidden states: topic, sentiment, NER and entity sentiment."""

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


def span_pool(hidden: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """Mean of `hidden[b, start:end]` for each row `(b, start, end)` of `spans` [N, 3] -> [N, H]."""
    if spans.numel() == 0:
        return hidden.new_zeros((0, hidden.shape[-1]))
    positions = torch.arange(hidden.shape[1], device=hidden.device)
    b, start, end = spans[:, 0], spans[:, 1:2], spans[:, 2:3]
    weights = ((positions >= start) & (positions < end)).to(hidden.dtype)  # [N, seq]
    summed = torch.einsum("ns,nsh->nh", weights, hidden[b])
    return summed / weights.sum(1, keepdim=True).clamp(min=1.0)


def entity_inputs(
    hidden: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(span vectors [N, H], their sentences' mean-pooled vectors [N, H]) for `spans` rows
    `(batch index, first token, end token)`: all the entity head reads."""
    return span_pool(hidden, spans), mean_pool(hidden, mask)[spans[:, 0]]


class EntityHead(nn.Module):
    """Targeted sentiment of a token span: [span, sentence, span * sentence] -> MLP -> class logits.
    Works on pooled vectors, so training can cache them once from a frozen encoder (`features`)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(3 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_labels)

    def pooled(
        self, hidden: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(span vectors [N, H], their sentence vectors [N, H]) for `spans` rows `(batch, start, end)`."""
        return span_pool(hidden, spans), mean_pool(hidden, mask)[spans[:, 0]]

    def classify(self, span: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_labels] from pooled span and sentence vectors."""
        x = torch.cat([span, sentence, span * sentence], dim=-1)
        x = nn.functional.gelu(self.dense(self.dropout(x)))
        return self.out(self.dropout(x))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        return self.classify(*entity_inputs(hidden, mask, spans))
