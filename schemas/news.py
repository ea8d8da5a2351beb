"""News message contracts: `RawNews` on `news.raw`, `EnrichedNews` on `news.enriched`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from schemas.ids import news_id
from schemas.sanitize import CleanLine, CleanText

MAX_TITLE_CHARS = 2_000
MAX_BODY_CHARS = 1_000_000

Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive")


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+05:00 has no UTC datetime
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes and out-of-range ones are rejected."""

NEWS_ID_PATTERN = r"^[\x21-\x7e]+$"
"""Ids are keys: printable ASCII without spaces (ours are 32 hex chars), never cleaned, only checked."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every message: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RawNews(Contract):
    """One news item as ingested, before the model has seen it.

    Every text field is sanitised on the way in (`schemas.sanitize`): whatever built it, a
    `RawNews` holds text Postgres and JSON can store.
    """

    schema_version: Literal[1] = 1
    id: str = Field(min_length=8, max_length=64, pattern=NEWS_ID_PATTERN)
    source: CleanLine = Field(min_length=1, max_length=200)
    url: CleanLine | None = Field(default=None, max_length=4_000)
    title: CleanLine = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    body: CleanText = Field(default="", max_length=MAX_BODY_CHARS)
    published_at: UtcDatetime
    language: CleanLine | None = Field(default=None, max_length=16)
    tickers: tuple[Annotated[CleanLine, StringConstraints(max_length=32)], ...] = ()
    ingested_at: UtcDatetime = Field(default_factory=utc_now)

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: object) -> object:
        """Compute the stable id when the producer did not give one (wrong types are left for
        the field validators to report)."""
        if not (isinstance(data, dict) and not data.get("id") and isinstance(data.get("title"), str)):
            return data
        url, source = data.get("url"), data.get("source", "")
        if not (url is None or isinstance(url, str)) or not isinstance(source, str):
            return data
        published = data.get("published_at")
        if isinstance(published, str):
            try:
                published = datetime.fromisoformat(published)
            except ValueError:
                return data  # the field validator reports the bad date
        if not (isinstance(published, datetime) and published.tzinfo is not None):
            return data
        try:
            published = published.astimezone(UTC)
        except OverflowError:
            return data  # the field validator reports the out-of-range date
        return {**data, "id": news_id(url=url, source=source, title=data["title"], published_at=published)}

    @property
    def text(self) -> str:
        """What the model reads: the title, then the body."""
        return f"{self.title}\n{self.body}" if self.body else self.title


class SentimentProbs(Contract):
    negative: float = Field(ge=0.0, le=1.0)
    neutral: float = Field(ge=0.0, le=1.0)
    positive: float = Field(ge=0.0, le=1.0)


def sentiment_score(probs: Mapping[str, float] | SentimentProbs) -> float:
    """The one sentiment score: `P(positive) - P(negative)`, clamped to [-1, 1] (float error in a
    softmax must not put a score outside the contract's range). Both labels must be present."""
    if isinstance(probs, SentimentProbs):
        positive, negative = probs.positive, probs.negative
    else:
        positive, negative = probs["positive"], probs["negative"]
    return max(-1.0, min(1.0, float(positive) - float(negative)))


EntitySentimentSource = Literal["entity", "sentence"]


class EntityMention(Contract):
    """A named entity found in `RawNews.text`; offsets are character offsets into that text.

    `sentiment` is the model's sentiment towards the entity, from the same forward pass, so a
    text about two companies need not give both the same label. `sentiment_source` says which
    output gave it: `entity`, the entity's own (targeted) sentiment; `sentence`, where that output
    was unsure, the sentiment of the sentence holding the mention. `sentiment` is `None` only
    where neither exists (the mention lies past truncation) or the message predates it (schema
    version 1); readers then fall back to the headline's sentiment. Version-2 messages carry the
    entity's own sentiment without a source (it was always `entity`; None where it abstained).
    """

    text: str
    label: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)
    ticker: str | None = None
    sentiment: Sentiment | None = None
    sentiment_probs: SentimentProbs | None = None
    sentiment_score: float | None = Field(default=None, ge=-1.0, le=1.0, description="P(positive) - P(negative)")
    sentiment_source: EntitySentimentSource | None = Field(
        default=None, description="entity: the entity's own sentiment; sentence: its sentence's"
    )

    @model_validator(mode="after")
    def _source_has_a_sentiment(self) -> EntityMention:
        if self.sentiment_source is not None and self.sentiment is None:
            raise ValueError("sentiment_source without a sentiment")
        return self


class EnrichedNews(Contract):
    """What the model said about one news item under one model version.

    Schema version 2 added the entities' own sentiment, version 3 its `sentiment_source` (and the
    sentence fallback, so an entity has a sentiment wherever the model read it). Older messages
    are still read: version 1 without entity sentiment, version 2 without its source.
    """

    schema_version: Literal[1, 2, 3] = 3
    news_id: str = Field(min_length=8, max_length=64)
    model_version: str = Field(min_length=1, max_length=100)
    published_at: UtcDatetime
    topic: str
    topic_score: float = Field(ge=0.0, le=1.0)
    sentiment: Sentiment
    sentiment_probs: SentimentProbs
    sentiment_score: float = Field(ge=-1.0, le=1.0, description="P(positive) - P(negative)")
    entities: tuple[EntityMention, ...] = ()
    processed_at: UtcDatetime = Field(default_factory=utc_now)
    flags: tuple[str, ...] = Field(
        default=(),
        description="caveats of a real prediction, e.g. `truncated` (only the title + lead was read); "
        "inputs that could not be scored are dead-lettered, never stored with a fallback",
    )

    @model_validator(mode="after")
    def _version_matches_fields(self) -> EnrichedNews:
        if self.schema_version == 1 and any(e.sentiment is not None for e in self.entities):
            raise ValueError("schema_version 1 has no entity sentiment; such a message is version 3")
        if self.schema_version < 3 and any(e.sentiment_source is not None for e in self.entities):
            raise ValueError("schema_version 1 and 2 have no entity sentiment_source; such a message is version 3")
        if self.schema_version == 3 and any((e.sentiment is None) != (e.sentiment_source is None) for e in self.entities):
            raise ValueError("schema_version 3: an entity's sentiment and its sentiment_source come together")
        return self
