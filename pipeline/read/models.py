"""The shapes the read API serves (pydantic models; datetimes are aware UTC, serialized ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


EntitySentimentSource = Literal["entity", "sentence"]


class EntityOut(_Out):
    text: str
    label: str = Field(description="PER, ORG, LOC or MISC")
    ticker: str | None
    confidence: float
    start_char: int
    end_char: int
    sentiment: str | None = Field(
        default=None,
        description="the model's sentiment towards the entity (`sentiment_source` says which output); "
        "null where it has none, e.g. past truncation (read the article's)",
    )
    sentiment_score: float | None = Field(default=None, description="P(positive) - P(negative) towards the entity")
    sentiment_source: EntitySentimentSource | None = Field(
        default=None,
        description="entity: the entity's own sentiment; sentence: where that was unsure, the sentiment of "
        "the sentence holding the mention; null for rows stored before it (their sentiment is the entity's own)",
    )


class TowardsOut(_Out):
    """An article's sentiment towards one ticker, as per-ticker rules count it."""

    ticker: str
    sentiment: str = Field(description="the model's towards the entity at its first mention, else the article's")
    sentiment_score: float
    own: bool = Field(description="true: the model's sentiment towards the entity; false: the article's (it had none)")
    source: Literal["entity", "sentence", "headline"] = Field(
        description="which sentiment was counted: the entity's own, its sentence's, or the article's"
    )


class ArticleOut(_Out):
    """An article as one model version saw it (one enrichment), with its entities."""

    news_id: str
    title: str
    url: str | None
    source: str
    published_at: datetime
    language: str | None
    model_version: str
    topic: str
    topic_score: float
    sentiment: str = Field(description="negative, neutral or positive")
    p_negative: float
    p_neutral: float
    p_positive: float
    sentiment_score: float = Field(description="P(positive) - P(negative)")
    entities: list[EntityOut]
    towards: TowardsOut | None = Field(
        default=None, description="in the evidence of an alert grouped by ticker: the sentiment it counted"
    )


class EnrichmentOut(_Out):
    model_version: str
    topic: str
    topic_score: float
    sentiment: str
    p_negative: float
    p_neutral: float
    p_positive: float
    sentiment_score: float
    processed_at: datetime
    entities: list[EntityOut]


class ArticleDetail(_Out):
    """An article in full: its text and every model version's enrichment."""

    news_id: str
    title: str
    body: str
    url: str | None
    source: str
    published_at: datetime
    ingested_at: datetime
    language: str | None
    tickers: list[str]
    enrichments: list[EnrichmentOut]


class PeriodFigures(_Out):
    """Counts and mean score of the articles of one period."""

    start: datetime
    end: datetime
    count: int
    negative: int
    neutral: int
    positive: int
    negative_share: float | None = Field(description="negative / count; null when count = 0")
    mean_score: float | None = Field(description="mean sentiment score; null when count = 0")


class SparkPoint(_Out):
    start: datetime
    count: int
    negative_share: float | None


class TopicSummary(_Out):
    topic: str
    window: PeriodFigures
    baseline: PeriodFigures
    expected_count: float = Field(description="the baseline's rate scaled to the window's length")
    negative_share_change: float | None = Field(description="window minus baseline negative share")
    mean_score_change: float | None = Field(description="window minus baseline mean score")
    sparkline: list[SparkPoint] = Field(description="negative share per hour over the last 24 h")


class TimelineBucket(_Out):
    start: datetime
    count: int
    negative: int
    neutral: int
    positive: int
    negative_share: float | None
    mean_score: float | None


class EntityFigures(_Out):
    """One ticker or entity: its articles in the window against the baseline before it."""

    key: str = Field(description="the ticker, else LABEL:lower-case text")
    ticker: str | None
    text: str
    label: str
    count: int
    negative: int
    negative_share: float | None
    mean_score: float | None
    baseline_count: int
    baseline_negative_share: float | None
    baseline_mean_score: float | None
    mean_score_change: float | None
