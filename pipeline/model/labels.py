"""Label maps of the heads (entity sentiment shares the sentiment labels); saved inside every checkpoint, never hard-coded at inference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOPIC_NAMES: tuple[str, ...] = (
    "Analyst Update",
    "Fed | Central Banks",
    "Company | Product News",
    "Treasuries | Corporate Debt",
    "Dividend",
    "Earnings",
    "Energy | Oil",
    "Financials",
    "Currencies",
    "General News | Opinion",
    "Gold | Metals | Materials",
    "IPO",
    "Legal | Regulation",
    "M&A | Investments",
    "Macro",
    "Markets",
    "Politics",
    "Personnel Change",
    "Stock Commentary",
    "Stock Movement",
)
"""Topic ids 0-19 of twitter-financial-news-topic (the training data's README); used only by training."""

SENTIMENT_NAMES: tuple[str, ...] = ("negative", "neutral", "positive")
ENTITY_TYPES: tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")


def bio_tags(entity_types: tuple[str, ...] = ENTITY_TYPES) -> tuple[str, ...]:
    """`O` then `B-X`, `I-X` for each entity type."""
    return ("O", *(f"{p}-{t}" for t in entity_types for p in ("B", "I")))


@dataclass(frozen=True)
class LabelMaps:
    """Index -> name for each head."""

    topic: tuple[str, ...]
    sentiment: tuple[str, ...]
    ner: tuple[str, ...]

    @classmethod
    def default(cls) -> LabelMaps:
        """The label set the shipped model is trained with."""
        return cls(topic=TOPIC_NAMES, sentiment=SENTIMENT_NAMES, ner=bio_tags())

    def to_dict(self) -> dict[str, list[str]]:
        return {"topic": list(self.topic), "sentiment": list(self.sentiment), "ner": list(self.ner)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelMaps:
        return cls(topic=tuple(data["topic"]), sentiment=tuple(data["sentiment"]), ner=tuple(data["ner"]))

    def index(self, task: str) -> dict[str, int]:
        """Name -> index for one head (`topic`, `sentiment` or `ner`)."""
        return {name: i for i, name in enumerate(getattr(self, task))}
