"""What a watchlist is: keys to match (tickers, entity names, topics), a sentiment condition, a
minimum relevance, receivers, quiet hours and a rate limit.

`WatchlistSpec` is what a user gives (`finsent watchlist add`, `POST /v1/watchlists`), validated
and normalised here; `Watchlist` is a stored one (with its id and revision).

Matching keys: tickers upper-case without a leading `$`; entity names by `entity_key` (case-folded,
whitespace collapsed: "apple  INC" = "Apple Inc"); topics as the model names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from alerts.duration_text import duration_pattern
from alerts.rules import parse_duration
from alerts.text import CONTROL, SPACE, printable
from alerts.watchlists.sentiment import SentimentView
from schemas import Sentiment

Relevance = Literal["mention", "title"]
"""Where an entity must appear: anywhere in the text (`mention`) or in the title (`title`)."""
RELEVANCE_ORDER: dict[str, int] = {"mention": 0, "title": 1}

MAX_KEYS = 500
MAX_PER = timedelta(days=31)
"""Longest rate-limit period."""
"""Most tickers / entity names / topics one watchlist may hold."""


TICKER_PATTERN = rf"^[\x09-\x0d{SPACE}]*\$?[^{CONTROL}{SPACE}$]{{1,32}}[\x09-\x0d{SPACE}]*$"
"""A ticker as given: 1-32 characters without spaces, after an optional `$`, spaces around."""
_TICKER = re.compile(TICKER_PATTERN)


def ticker_key(value: str) -> str:
    """The matching form of a ticker: stripped, without a leading `$`, upper-case letter by letter
    (a letter whose capital is longer, such as `ß`, is kept, so the key is no longer than the ticker)."""
    return "".join(u if len(u := c.upper()) == 1 else c for c in value.strip().lstrip("$"))


def entity_key(value: str) -> str:
    """The matching form of an entity name: case-folded, whitespace collapsed."""
    return " ".join(value.casefold().split())


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SentimentCondition(_Frozen):
    """Every given part must hold (an empty condition always holds).

    `labels`: the sentiment is one of these; `max_score` / `min_score`: bounds on
    `P(positive) - P(negative)`, inclusive; `min_probability`: `P(probability_of) >= x`.
    """

    labels: tuple[Sentiment, ...] = ()
    max_score: float | None = Field(default=None, ge=-1.0, le=1.0)
    min_score: float | None = Field(default=None, ge=-1.0, le=1.0)
    min_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    probability_of: Sentiment = "negative"

    @field_validator("labels")
    @classmethod
    def _sorted(cls, labels: tuple[Sentiment, ...]) -> tuple[Sentiment, ...]:
        return tuple(sorted(set(labels)))

    def holds(self, view: SentimentView) -> bool:
        if self.labels and view.label not in self.labels:
            return False
        if self.max_score is not None and view.score > self.max_score:
            return False
        if self.min_score is not None and view.score < self.min_score:
            return False
        return self.min_probability is None or view.probability(self.probability_of) >= self.min_probability

    def describe(self) -> str:
        parts = []
        if self.labels:
            parts.append("sentiment in " + "/".join(self.labels))
        if self.max_score is not None:
            parts.append(f"score <= {self.max_score:g}")
        if self.min_score is not None:
            parts.append(f"score >= {self.min_score:g}")
        if self.min_probability is not None:
            parts.append(f"P({self.probability_of}) >= {self.min_probability:g}")
        return " and ".join(parts) or "any sentiment"


LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
"""`HH:MM[:SS[.ffffff]]`: a time of day without an offset."""
_LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)


def _local_time(value: object) -> object:
    """A quiet-hours bound as given: a time of day in the watchlist's `timezone`, so without an
    offset (`22:00:00Z` would compare an aware time with a local one) and not a number of seconds."""
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and _LOCAL_TIME.fullmatch(value):
        return value
    raise ValueError(f"not a local time of day: {str(value)[:40]!r} (HH:MM, e.g. 22:00; the zone is `timezone`)")


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN, "examples": ["22:00"]}),
]


class QuietHours(_Frozen):
    """No notices from `start` to `end` (local time in `timezone`; may wrap midnight; start = end:
    all day)."""

    start: LocalTime
    end: LocalTime
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, json_schema_extra={"enum": sorted(available_timezones())}
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(printable(name, "time zone"))
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)") from exc
        return name

    @classmethod
    def parse(cls, text: str, timezone: str = "UTC") -> QuietHours:
        """`"22:00-07:00"` in `timezone`."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"quiet hours {text!r}: use HH:MM-HH:MM, e.g. 22:00-07:00")
        return cls(start=start.strip(), end=end.strip(), timezone=timezone)  # type: ignore[arg-type]

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone)).timetz().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def format_duration(value: timedelta) -> str:
    """`1h30m`, `2d`, `45s`: the form `parse_duration` reads back."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


class RateLimit(_Frozen):
    """At most `max_notices` queued notices per `per` (a sliding window); more are suppressed."""

    max_notices: int = Field(ge=1, le=100_000)
    per: Annotated[
        timedelta,
        BeforeValidator(parse_duration),
        WithJsonSchema({"type": "string", "pattern": duration_pattern(timedelta(seconds=1), MAX_PER)}, mode="validation"),
        WithJsonSchema({"type": "string"}, mode="serialization"),
    ] = Field(description="e.g. 1h, 30m, 1d (1 s to 31 d; also 1h30m)")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`"10/1h"`: at most 10 notices per hour."""
        count, sep, period = text.partition("/")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"rate limit {text!r}: use COUNT/PERIOD, e.g. 10/1h")
        return cls(max_notices=int(count), per=period.strip())

    @field_serializer("per")
    def _per_text(self, per: timedelta) -> str:
        return format_duration(per)

    @field_validator("per")
    @classmethod
    def _positive(cls, per: timedelta) -> timedelta:
        if per <= timedelta(0) or per > MAX_PER:
            raise ValueError("the rate limit period must be between 1s and 31d")
        return per


def _distinct(values: tuple[str, ...], what: str, key: Callable[[str], str] = str) -> tuple[str, ...]:
    """`values` with whitespace collapsed, the first of each `key` kept, checked for size."""
    out: dict[str, str] = {}
    for value in values:
        text = " ".join(printable(value, what).split())
        if not text or len(text) > 200:
            raise ValueError(f"every {what} needs 1-200 characters, not {value[:50]!r}")
        out.setdefault(key(text), text)
    if len(out) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} {what}s per watchlist")
    return tuple(out.values())


class WatchlistSpec(_Frozen):
    """A watchlist as given by its owner; at least one ticker, entity name or topic."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@ -]+$")
    owner: str = Field(min_length=1, max_length=200)
    tickers: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    condition: SentimentCondition = SentimentCondition()
    min_relevance: Relevance = "mention"
    receivers: tuple[str, ...] = Field(default=(), description="receiver names; empty = every configured one")
    quiet_hours: QuietHours | None = None
    rate_limit: RateLimit | None = None

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [v for v in values if not _TICKER.fullmatch(v)]:
            raise ValueError(f"not a ticker: {bad[0][:40]!r} (1-32 characters without spaces, after an optional $)")
        return _distinct(tuple(ticker_key(v) for v in values), "ticker")

    @field_validator("entities")
    @classmethod
    def _entities(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct(values, "entity name", entity_key)

    @field_validator("topics")
    @classmethod
    def _topics(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct(values, "topic")

    @field_validator("receivers")
    @classmethod
    def _receivers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct(values, "receiver")

    @field_validator("owner")
    @classmethod
    def _owner(cls, owner: str | None) -> str | None:
        return None if owner is None else printable(owner, "owner")  # None: the API's "me"

    @model_validator(mode="after")
    def _something_to_match(self) -> WatchlistSpec:
        if not (self.tickers or self.entities or self.topics):
            raise ValueError("a watchlist needs at least one ticker, entity name or topic")
        return self

    @property
    def entity_keys(self) -> frozenset[str]:
        return frozenset(entity_key(e) for e in self.entities)


class Watchlist(WatchlistSpec):
    """A stored watchlist."""

    id: int
    revision: int
    created_at: datetime
    updated_at: datetime
