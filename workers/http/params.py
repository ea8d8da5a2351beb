"""Query parameters of the read API, parsed with clear 422 answers.

A bad value raises `RequestValidationError`, which the app answers 422 with
`{"error": "invalid request", "errors": [{"loc": ["query", NAME], "msg": ..., "type": ...}]}`,
the same shape as FastAPI's own validation errors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.exceptions import RequestValidationError

from alerts.explain import span
from alerts.rules import parse_duration
from pipeline.read.cursor import CursorError, Keyset, decode_cursor

MAX_TEXT = 200
"""Longest accepted free-text filter (topic, ticker, entity, q)."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
"""Accepted instants (so that range arithmetic never leaves `datetime`'s range)."""


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
    except (OverflowError, ValueError):
        parsed = EARLIEST - timedelta(days=1)
    if not EARLIEST <= parsed < LATEST:
        raise invalid(name, f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return parsed


def period(start_name: str, start: datetime | None, end_name: str, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise invalid(end_name, f"{end_name} must be after {start_name}")


def duration(name: str, value: str, *, low: timedelta, high: timedelta) -> timedelta:
    """`15m`, `1h`, `24h`, `7d`, `1h30m` within [low, high]."""
    try:
        parsed = parse_duration(value)
    except (ValueError, OverflowError):
        raise invalid(name, f"not a duration: {value[:40]!r} (e.g. 15m, 1h, 24h, 7d)") from None
    if not low <= parsed <= high:
        raise invalid(name, f"must be between {span(low)} and {span(high)}")
    return parsed


def cursor(value: str | None, digest: str) -> Keyset | None:
    if value is None:
        return None
    try:
        return decode_cursor(value, digest)
    except CursorError as exc:
        raise invalid("cursor", str(exc)) from None


def text(name: str, value: str | None) -> str | None:
    """A free-text filter: stripped, at most `MAX_TEXT` characters, no control characters."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_TEXT or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise invalid(name, f"must be 1-{MAX_TEXT} printable characters")
    return value

