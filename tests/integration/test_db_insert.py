"""`pipeline.db.insert.insert_for` on Postgres and SQLite: one statement, both conflict clauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from pipeline.db.insert import CHUNK_ROWS, chunked, insert_for
from pipeline.db.models import AlertProgress

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 27, 14, tzinfo=UTC)


def test_do_nothing_and_do_update_on_both_dialects(db_engine: Engine) -> None:
    table = AlertProgress.__table__
    rows = [{"name": f"w{i:04d}", "last_tick_at": T, "updated_at": T} for i in range(CHUNK_ROWS + 3)]
    with db_engine.begin() as conn:
        for chunk in chunked(rows, CHUNK_ROWS):
            conn.execute(insert_for(conn, table).values(list(chunk)))
        again = insert_for(conn, table).values(rows[0]).on_conflict_do_nothing()
        assert conn.execute(again.returning(table.c.name)).first() is None
        later = insert_for(conn, table).values(
            name="w0000", last_tick_at=T + timedelta(minutes=1), updated_at=T
        )
        conn.execute(
            later.on_conflict_do_update(
                index_elements=["name"], set_={"last_tick_at": later.excluded.last_tick_at}
            )
        )
        stored = dict(conn.execute(select(table.c.name, table.c.last_tick_at)).all())
    assert len(stored) == CHUNK_ROWS + 3
    assert stored["w0000"] == T + timedelta(minutes=1) and stored["w0001"] == T
