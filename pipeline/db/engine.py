"""Engines and sessions: one `make_engine(url)` for Postgres and the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

QUERY_CANCELED = "57014"


def make_engine(
    url: str | URL, *, sqlite_foreign_keys: bool = True, statement_timeout_ms: int | None = None, **kwargs: Any
) -> Engine:
    """Create an engine with `pool_pre_ping`; for SQLite also create the file's folder and set
    WAL, foreign keys (unless `sqlite_foreign_keys=False`, as migrations need) and a busy timeout.
    On Postgres, `statement_timeout_ms` (> 0) cancels any statement of its sessions that runs
    longer (`QueryCanceled`, see `is_statement_timeout`); SQLite has no such setting.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if statement_timeout_ms:
            connect_args = dict(kwargs.pop("connect_args", {}))
            options = f"{connect_args.get('options', '')} -c statement_timeout={int(statement_timeout_ms)}"
            kwargs["connect_args"] = {**connect_args, "options": options.strip()}
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas(foreign_keys=sqlite_foreign_keys))
    return engine


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether `exc` is Postgres cancelling a statement (`statement_timeout`: SQLSTATE 57014)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) == QUERY_CANCELED


def _sqlite_pragmas(*, foreign_keys: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    return on_connect


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine` that keep loaded attributes readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
