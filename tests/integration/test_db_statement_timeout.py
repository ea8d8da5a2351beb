"""The HTTP API's Postgres sessions run with `statement_timeout`: a query past it is cancelled by
the server (the request gets 503 at once instead of holding a pooled connection); engines opened
without it (workers, migrations, backtests) keep Postgres' default of none."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from pipeline.api_tokens import TokenRegistry
from pipeline.config import Settings
from pipeline.db import open_database
from pipeline.db.engine import is_statement_timeout
from tests.fixtures.waiting import WAIT_S
from workers.http import AppContext
from workers.http.app import create_app
from workers.http.reading import connection
from workers.http.server import ServerThread

pytestmark = pytest.mark.integration

TIMEOUT_MS = 300
SLEEP_S = 5.0


@pytest.fixture
def api_engine(pg_url: str) -> Iterator[Engine]:
    engine = open_database(
        Settings(database_url=pg_url, db_statement_timeout_ms=TIMEOUT_MS), statement_timeout_ms=TIMEOUT_MS
    )
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_statement_past_the_timeout_is_cancelled(api_engine: Engine, pg_engine: Engine) -> None:
    with api_engine.connect() as conn:
        assert conn.scalar(text("SHOW statement_timeout")) == f"{TIMEOUT_MS}ms"
        assert conn.scalar(text("SELECT 1 FROM pg_sleep(0.05)")) == 1  # shorter queries run as before
        started = time.monotonic()
        with pytest.raises(OperationalError) as cancelled:
            conn.execute(text("SELECT pg_sleep(:s)"), {"s": SLEEP_S})
    assert is_statement_timeout(cancelled.value)
    assert time.monotonic() - started < SLEEP_S / 2
    with pg_engine.connect() as conn:  # no timeout asked: Postgres' default (none)
        assert conn.scalar(text("SHOW statement_timeout")) == "0"


def test_the_default_setting_is_a_few_seconds() -> None:
    assert 1000 <= Settings().db_statement_timeout_ms <= 30_000


def test_a_request_whose_query_runs_past_it_gets_503(api_engine: Engine) -> None:
    router = APIRouter()

    @router.get("/slow")
    def slow(conn: Connection = Depends(connection)) -> dict[str, bool]:  # noqa: B008
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": SLEEP_S})
        return {"done": True}

    @router.get("/broken")
    def broken(conn: Connection = Depends(connection)) -> dict[str, bool]:  # noqa: B008
        conn.execute(text("SELECT * FROM no_such_table"))
        return {"done": True}

    context = AppContext(settings=Settings(), tokens=TokenRegistry([]), engine=api_engine, open_access=True)
    with (
        ServerThread(create_app(context, [router])) as server,
        httpx.Client(base_url=server.url, timeout=WAIT_S) as client,
    ):
        started = time.monotonic()
        answer = client.get("/slow")
        elapsed = time.monotonic() - started
        other_error = client.get("/broken")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert "longer than this server allows" in answer.json()["error"]
    assert elapsed < SLEEP_S / 2
    assert other_error.status_code == 500  # any other database error is still an internal error
