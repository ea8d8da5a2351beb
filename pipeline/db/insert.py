"""The dialect's INSERT and row chunks: what every idempotent write (`ON CONFLICT DO NOTHING` /
`DO UPDATE`) on Postgres and SQLite is built from.

`insert_for(conn, table)` is `postgresql.insert` or `sqlite.insert`, the two INSERTs that have
`on_conflict_do_nothing`, `on_conflict_do_update` and `excluded`; any other dialect is an error
(`[DB002]`), never a plain INSERT that would fail on the first replayed row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, FromClause
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

CHUNK_ROWS: Final = 500
"""Rows per INSERT statement: 500 x <=20 columns = 10,000 bind parameters, under SQLite's 32,766
and Postgres' 65,535."""


def insert_for(conn: Connection, table: FromClause | type[Any]) -> postgresql.Insert | sqlite.Insert:
    """The INSERT of `conn`'s dialect into `table` (a table or an ORM class)."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"[DB002] no idempotent insert for dialect {name!r} (postgresql, sqlite)")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size` (one statement each: under the bind-parameter limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
