"""`pipeline.db.insert`: the dialect's INSERT, and row chunks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from pipeline.db.insert import chunked, insert_for
from pipeline.db.models import AlertProgress


@given(st.lists(st.integers(), max_size=50), st.integers(1, 12))
def test_chunks_cover_the_items_in_order(items: list[int], size: int) -> None:
    chunks = list(chunked(items, size))
    assert [x for c in chunks for x in c] == items
    assert all(0 < len(c) <= size for c in chunks)


def test_sqlite_gets_the_insert_with_on_conflict() -> None:
    with create_engine("sqlite://").connect() as conn:
        assert isinstance(insert_for(conn, AlertProgress.__table__), sqlite.Insert)


def test_another_dialect_is_an_error_not_a_plain_insert() -> None:
    conn: Any = SimpleNamespace(dialect=SimpleNamespace(name="mysql"))
    with pytest.raises(NotImplementedError, match=r"\[DB002\].*'mysql'"):
        insert_for(conn, AlertProgress.__table__)
