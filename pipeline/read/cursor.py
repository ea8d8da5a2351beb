"""Opaque keyset cursors for newest-first listings ordered by (instant, id).

A cursor holds the last row's sort key and a digest of the listing's filters: a page after it is
`WHERE (t, id) < (cursor.t, cursor.id)`, so rows inserted meanwhile never shift a page (no
duplicates, nothing skipped), and a cursor presented with other filters is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

_VERSION = 1


class CursorError(ValueError):
    """The cursor is not one this listing issued (malformed, or made for other filters)."""


@dataclass(frozen=True, slots=True)
class Keyset:
    at: datetime
    id: int

    def before(self, at_column: ColumnElement[datetime], id_column: ColumnElement[int]) -> ColumnElement[bool]:
        """Rows that sort after this key, newest first."""
        return or_(at_column < self.at, and_(at_column == self.at, id_column < self.id))


def filters_digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def encode_cursor(key: Keyset, digest: str) -> str:
    blob = json.dumps({"v": _VERSION, "t": key.at.isoformat(), "i": key.id, "f": digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(blob.encode()).decode().rstrip("=")


def decode_cursor(token: str, digest: str) -> Keyset:
    """The key in `token`; `CursorError` unless it is well formed and made for `digest`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        at = datetime.fromisoformat(data["t"])
        key = Keyset(at, data["i"])
        ok = data["v"] == _VERSION and isinstance(key.id, int) and at.tzinfo is not None
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CursorError("not a cursor of this listing: pass back `next_cursor` unchanged") from None
    if not ok:
        raise CursorError("not a cursor of this listing: pass back `next_cursor` unchanged")
    if data["f"] != digest:
        raise CursorError("this cursor was made for other filters: repeat the same query with it")
    if not -(2**63) <= key.id < 2**63:
        raise CursorError("not a cursor of this listing: pass back `next_cursor` unchanged")
    return key
