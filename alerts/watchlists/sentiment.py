"""The sentiment a watchlist condition looks at: the headline's, or the model's towards an entity.

Per-entity sentiment is optional on `EntityMention` (`sentiment`, `sentiment_probs`,
`sentiment_score`, `sentiment_source`: the entity's own, else its sentence's; None = neither, e.g.
past truncation or a schema-1 message): an entity without a sentiment falls back to the headline's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas import EnrichedNews, EntityMention, sentiment_score

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


def entity_source(mention: EntityMention) -> SentimentSource:
    """Which output gave a mention's sentiment: `sentence` where the message says so, else `entity`
    (schema-2 messages carry no source: their entity sentiment was always the entity's own)."""
    return "sentence" if mention.sentiment_source == "sentence" else "entity"


def entity_sentiment(mention: EntityMention) -> SentimentView | None:
    """The model's sentiment towards the entity, or None when it has none."""
    p = mention.sentiment_probs
    if mention.sentiment is None or p is None:
        return None
    score = mention.sentiment_score if mention.sentiment_score is not None else sentiment_score(p)
    return SentimentView(mention.sentiment, p.negative, p.neutral, p.positive, score)
