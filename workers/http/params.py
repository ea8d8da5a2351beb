"""Query parameters of the read API: their OpenAPI declarations and their parsing, together.

Each `*_query` declares a parameter with every constraint the server checks (pattern, length,
format), so that a request the document calls valid is answered, and one it calls invalid is
refused. A bad value raises `RequestValidationError`, which the app answers 422 with
`{"error": "invalid request", "errors": [{"loc": ["query", NAME], "msg": ..., "type": ...}]}`,
the same shape as FastAPI's own validation errors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError

from alerts.duration_text import duration_pattern
from alerts.explain import span
from alerts.rules import MAX_DURATION_CHARS, parse_duration
from alerts.text import PRINTABLE_PATTERN, TEXT_PATTERN
from pipeline.read.cursor import CURSOR_PATTERN, CursorError, Keyset, decode_cursor
from schemas.news import NEWS_ID_PATTERN

MAX_TEXT = 200
"""Longest accepted free-text filter (topic, ticker, entity, q)."""
MAX_DURATION = MAX_DURATION_CHARS
"""Longest accepted duration parameter (`window`, `baseline`)."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Instants are clamped into [EARLIEST, LATEST) (so that range arithmetic never leaves `datetime`'s range)."""
LABEL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$"
LABEL_NAME = re.compile(LABEL_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
"""Printable text with something besides spaces (free-text filters, names in paths)."""


def invalid(name: str, message: str, where: str = "query") -> RequestValidationError:
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error"}])


def instant(name: str, value: str | None) -> datetime | None:
    """ISO 8601 (`2026-11-27T13:00:00Z`, an offset, or a date = midnight UTC); no offset = UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid(name, f"not an ISO 8601 instant: {value[:40]!r} (e.g. 2026-11-27T13:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset pushed it past year 1 or 9999
        parsed = EARLIEST if parsed.year < EARLIEST.year else LATEST
    return min(max(parsed, EARLIEST), LATEST - timedelta(microseconds=1))


def instant_query(description: str, alias: str | None = None) -> Any:
    """An optional RFC 3339 date-time parameter (read with `instant`)."""
    return Query(
        None, alias=alias, description=f"{description}; RFC 3339 (a date alone, or no offset, is read as UTC)",
        json_schema_extra={"format": "date-time"},
    )


def duration_query(default: str | None, description: str, *, low: timedelta, high: timedelta) -> Any:
    """A duration parameter (read with `duration`). The document states the one-unit form; the
    server also reads combinations such as `1h30m` within the same bounds."""
    return Query(
        default, max_length=MAX_DURATION, description=f"{description}; between {span(low)} and {span(high)}",
        json_schema_extra={"pattern": duration_pattern(low, high)},
    )


def duration(name: str, value: str, *, low: timedelta, high: timedelta) -> timedelta:
    """`15m`, `1h`, `24h`, `7d`, `1h30m` within [low, high]."""
    try:
        parsed = parse_duration(value)
    except (ValueError, OverflowError):
        raise invalid(name, f"not a duration: {value[:40]!r} (e.g. 15m, 1h, 24h, 7d)") from None
    if not low <= parsed <= high:
        raise invalid(name, f"must be between {span(low)} and {span(high)}")
    return parsed


def cursor_query() -> Any:
    return Query(
        None, pattern=CURSOR_PATTERN, max_length=40,
        description="`next_cursor` of the previous page: the position to read on from",
    )


def cursor(value: str | None) -> Keyset | None:
    if value is None:
        return None
    try:
        return decode_cursor(value)
    except CursorError as exc:
        raise invalid("cursor", str(exc)) from None


def text_query(description: str | None = None, *, max_length: int = MAX_TEXT) -> Any:
    """An optional free-text filter (read with `text`): printable, not blank, at most `max_length`."""
    return Query(None, min_length=1, max_length=max_length, pattern=TEXT_PATTERN, description=description)


def name_query(description: str, *, max_length: int) -> Any:
    """An optional name to match exactly (an owner, a receiver): printable, not stripped."""
    return Query(None, min_length=1, max_length=max_length, pattern=PRINTABLE_PATTERN, description=description)


def id_path(description: str) -> Any:
    """An id in a path (an article's, an alert's): 1-64 visible ASCII characters, as every stored id is."""
    return Path(min_length=1, max_length=64, pattern=NEWS_ID_PATTERN, description=description)


def text(name: str, value: str | None) -> str | None:
    """A free-text filter: stripped, 1-`MAX_TEXT` printable characters (as `TEXT_PATTERN` says)."""
    if value is None:
        return None
    if len(value) > MAX_TEXT or not _TEXT.fullmatch(value):
        raise invalid(name, f"must be 1-{MAX_TEXT} printable characters, not only spaces")
    return value.strip()

