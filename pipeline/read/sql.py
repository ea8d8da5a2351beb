"""Dialect helpers for the read queries (Postgres and SQLite): time buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, DateTime, cast, func, literal_column


def bucket_key(conn: Connection, column: ColumnElement[datetime], origin: datetime, size_s: int) -> ColumnElement[Any]:
    """A grouping key for `size_s`-second buckets from `origin` (whole seconds); `bucket_number`
    turns a key into 0, 1, ... On Postgres `date_bin` (cheap, and the covering indexes are enough);
    on SQLite the bucket number itself, from the stored UTC text."""
    if conn.dialect.name == "postgresql":
        step = literal_column(f"interval '{int(size_s)} seconds'")
        return func.date_bin(step, column, origin, type_=DateTime(timezone=True))
    seconds = cast(func.strftime(literal_column("'%s'"), column), BigInteger)
    return (seconds - int(origin.timestamp())) // size_s


def bucket_number(key: Any, origin: datetime, size_s: int) -> int:
    """The bucket number (0 = the one starting at `origin`) of a `bucket_key` value."""
    if isinstance(key, datetime):
        return int((key - origin).total_seconds()) // size_s
    return int(key)
