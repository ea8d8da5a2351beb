"""Message contracts: one frozen pydantic model per topic, topic names, serde."""

from schemas import topics
from schemas.alerts import AlertEvent, AlertStatus, AlertWindow
from schemas.dlq import DeadLetter
from schemas.ids import canonical_url, news_id
from schemas.news import (
    SENTIMENTS,
    EnrichedNews,
    EntityMention,
    RawNews,
    Sentiment,
    SentimentProbs,
    utc_now,
)
from schemas.serde import DecodeFailure, decode, encode

__all__ = [
    "SENTIMENTS",
    "AlertEvent",
    "AlertStatus",
    "AlertWindow",
    "DeadLetter",
    "DecodeFailure",
    "EnrichedNews",
    "EntityMention",
    "RawNews",
    "Sentiment",
    "SentimentProbs",
    "canonical_url",
    "decode",
    "encode",
    "news_id",
    "topics",
    "utc_now",
]
