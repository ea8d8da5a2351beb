"""Dialect helpers for the read queries (Postgres and SQLite)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, Connection, cast, func, literal_column


def epoch_seconds(conn: Connection, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """Whole seconds since the Unix epoch (floored) of a `UtcDateTime` column."""
    if conn.dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    # SQLite stores the UTC wall time as text; strftime('%s') reads it as UTC, in whole seconds
    return cast(func.strftime(literal_column("'%s'"), column), BigInteger)


def bucket_index(
    conn: Connection, column: ColumnElement[datetime], origin: datetime, size_s: int
) -> ColumnElement[int]:
    """Which `size_s`-second bucket after `origin` (whole seconds) an instant at or after it falls in."""
    return (epoch_seconds(conn, column) - int(origin.timestamp())) // size_s
