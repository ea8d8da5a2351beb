"""Keyset cursors for newest-first listings ordered by (instant, id).

A cursor is the position of a page's last row, `<microseconds since 1970>_<id>` (for instance
`1764248400000000_1234`): the next page is `WHERE (t, id) < (cursor.t, cursor.id)` under the
request's filters, so rows inserted meanwhile never shift a page (no duplicates, nothing
skipped). Every string matching `CURSOR_PATTERN` is a position (beyond the representable range
it is clamped to the nearest end, which selects the same rows), so the OpenAPI document can state
exactly which cursors a listing accepts; a cursor given with other filters reads on from there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, or_

CURSOR_PATTERN: Final = r"^-?[0-9]{1,19}_[0-9]{1,19}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST: Final = datetime.min.replace(tzinfo=UTC)
_LAST: Final = datetime.max.replace(tzinfo=UTC)
_MAX_ID: Final = 2**63 - 1


class CursorError(ValueError):
    """The text is not a cursor (`CURSOR_PATTERN`)."""


@dataclass(frozen=True, slots=True)
class Keyset:
    at: datetime
    id: int

    def before(self, at_column: ColumnElement[datetime], id_column: ColumnElement[int]) -> ColumnElement[bool]:
        """Rows that sort after this key, newest first."""
        return or_(at_column < self.at, and_(at_column == self.at, id_column < self.id))


def encode_cursor(key: Keyset) -> str:
    return f"{(key.at - _EPOCH) // timedelta(microseconds=1)}_{key.id}"


def decode_cursor(token: str) -> Keyset:
    """The position in `token`; `CursorError` unless it matches `CURSOR_PATTERN`."""
    if not _CURSOR.fullmatch(token):
        raise CursorError("not a cursor: pass back `next_cursor` unchanged")
    micros, row = token.split("_")
    try:
        at = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        at = _LAST if int(micros) > 0 else _FIRST
    return Keyset(at, min(int(row), _MAX_ID))
