"""The sentiment a watchlist condition looks at: the headline's, or the model's towards an entity.

Per-entity sentiment is optional on `EntityMention` (`sentiment`, `sentiment_probs`,
`sentiment_score`, `sentiment_source`: the entity's own, else its sentence's; None = neither, e.g.
past truncation). It is read with `getattr`, so this works before and after those fields exist:
an entity without a sentiment falls back to the headline's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from schemas import EnrichedNews, EntityMention

SentimentSource = Literal["entity", "sentence", "headline"]


@dataclass(frozen=True, slots=True)
class SentimentView:
    label: str
    negative: float
    neutral: float
    positive: float
    score: float
    """P(positive) - P(negative)."""

    def probability(self, label: str) -> float:
        return float(getattr(self, label))

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "probs": {
                "negative": round(self.negative, 4),
                "neutral": round(self.neutral, 4),
                "positive": round(self.positive, 4),
            },
        }


def headline_sentiment(item: EnrichedNews) -> SentimentView:
    p = item.sentiment_probs
    return SentimentView(item.sentiment, p.negative, p.neutral, p.positive, item.sentiment_score)


def _prob(probs: object, label: str) -> float | None:
    value = probs.get(label) if isinstance(probs, Mapping) else getattr(probs, label, None)
    return float(value) if isinstance(value, int | float) else None


def entity_source(mention: EntityMention) -> SentimentSource:
    """Which output gave a mention's sentiment: `sentence` where the message says so, else `entity`
    (schema-2 messages carry no source: their entity sentiment was always the entity's own)."""
    return "sentence" if getattr(mention, "sentiment_source", None) == "sentence" else "entity"


def entity_sentiment(mention: EntityMention) -> SentimentView | None:
    """The model's sentiment towards the entity, or None when it has none (not in the contract)."""
    label = getattr(mention, "sentiment", None)
    probs = getattr(mention, "sentiment_probs", None)
    if not isinstance(label, str) or probs is None:
        return None
    negative, neutral, positive = (_prob(probs, name) for name in ("negative", "neutral", "positive"))
    if negative is None or neutral is None or positive is None:
        return None
    score = getattr(mention, "sentiment_score", None)
    return SentimentView(
        label, negative, neutral, positive, float(score) if isinstance(score, int | float) else positive - negative
    )
