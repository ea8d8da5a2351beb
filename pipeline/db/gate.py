"""Open the configured database only when its schema matches this code.

Against a configured database (`FINSENT_DATABASE_URL`) migrations run only through
`finsent db upgrade` (or the compose `migrate` service): a worker that migrated on start would race
the other workers and the operator. Every other command checks the revision and stops with a clear
message when it differs. The embedded SQLite default (no URL configured) is the laptop/CI path:
it creates and upgrades its own file on first use, so `make demo` stays one command.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pipeline.config import Settings
from pipeline.db import migrate
from pipeline.db.engine import make_engine


class SchemaMismatchError(RuntimeError):
    """The database is not at the revision this code needs (behind, ahead or never migrated)."""


def open_database(settings: Settings, *, statement_timeout_ms: int | None = None) -> Engine:
    """An engine on the configured database, checked against the code's migration head; on the
    embedded SQLite default the file is migrated to head first. `statement_timeout_ms`: see
    `make_engine` (the HTTP API passes `FINSENT_DB_STATEMENT_TIMEOUT_MS`; workers, none)."""
    url = settings.sqlalchemy_url
    if settings.database_url is None:
        migrate.upgrade(url)
    else:
        require_head(url)
    return make_engine(url, statement_timeout_ms=statement_timeout_ms)


def require_head(url: str) -> None:
    """Raise `SchemaMismatchError` unless the database at `url` is at the code's head revision."""
    at, want = migrate.current(url), migrate.head()
    if at == want:
        return
    where = make_url(url).render_as_string(hide_password=True)
    if at is None:
        state = "has no finsent schema"
    elif at in migrate.known_revisions():
        state = f"is at revision {at}, behind this code's {want}"
    else:
        state = f"is at revision {at}, which this code does not know (newer code migrated it?)"
    raise SchemaMismatchError(
        f"[D001] the database {where} {state}: run `finsent db upgrade` (the compose `migrate` service does)"
    )
