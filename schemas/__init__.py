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
    sentiment_score,
    utc_now,
)
from schemas.sanitize import CleanLine, CleanText, clean_line, clean_text
from schemas.serde import DecodeFailure, decode, encode

__all__ = [
    "SENTIMENTS",
    "AlertEvent",
    "AlertStatus",
    "AlertWindow",
    "CleanLine",
    "CleanText",
    "DeadLetter",
    "DecodeFailure",
    "EnrichedNews",
    "EntityMention",
    "RawNews",
    "Sentiment",
    "SentimentProbs",
    "canonical_url",
    "clean_line",
    "clean_text",
    "decode",
    "encode",
    "news_id",
    "sentiment_score",
    "topics",
    "utc_now",
]
