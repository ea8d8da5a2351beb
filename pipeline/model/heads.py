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
        return self.classify(mean_pool(hidden, mask))

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_labels] of already pooled vectors [N, H] (e.g. one sentence's tokens)."""
        x = torch.tanh(self.dense(self.dropout(pooled)))
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


def linear_weight(layer: nn.Module) -> torch.Tensor:
    """The [out, in] weight of a linear layer, float even when int8 dynamic quantization swapped it
    (whose `weight` is then a method returning a quantized tensor)."""
    weight = layer.weight
    return weight().dequantize() if callable(weight) else weight


def span_distance(seq_len: int, spans: torch.Tensor) -> torch.Tensor:
    """[N, seq] signed token distance to each span: negative before it, 0 inside, positive after."""
    positions = torch.arange(seq_len, device=spans.device).unsqueeze(0)
    start, end = spans[:, 1:2], spans[:, 2:3]
    return torch.where(positions < start, positions - start, torch.clamp(positions - end + 1, min=0))


class EntityHead(nn.Module):
    """Targeted sentiment of a token span, from the encoder states of its text. The span's mean state
    queries the sentence (attention with a learned bias per clipped token distance to the span, so
    "AMD slumps" weighs the verb next to AMD), and [span, context, sentence mean] -> MLP -> logits."""

    def __init__(
        self, hidden_size: int, num_labels: int, dropout: float = 0.1, max_distance: int = 8
    ) -> None:
        super().__init__()
        self.max_distance = max_distance
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.distance_bias = nn.Embedding(2 * max_distance + 1, 1)
        nn.init.zeros_(self.distance_bias.weight)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(3 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_labels] for `spans` rows `(batch index, first token, end token)`."""
        states, valid = hidden[spans[:, 0]], mask[spans[:, 0]].bool()  # [N, seq, H], [N, seq]
        span = span_pool(hidden, spans)
        sentence = mean_pool(states, valid)
        dist = span_distance(hidden.shape[1], spans).clamp(-self.max_distance, self.max_distance)
        # q . (W_k h + b_k) = (W_k^T q) . h + const: one [N, H] product instead of keying every token
        # of every span's text; the constant q . b_k cancels in the softmax
        query = self.query(span) @ linear_weight(self.key).to(span.dtype)
        scores = torch.einsum("nh,nsh->ns", query, states) / states.shape[-1] ** 0.5
        scores = scores + self.distance_bias(dist + self.max_distance).squeeze(-1).to(scores.dtype)
        weights = torch.softmax(scores.masked_fill(~valid, torch.finfo(scores.dtype).min), dim=-1)
        context = torch.einsum("ns,nsh->nh", weights, states)
        x = torch.cat([span, context, sentence], dim=-1)
        x = nn.functional.gelu(self.dense(self.dropout(x)))
        return self.out(self.dropout(x))
