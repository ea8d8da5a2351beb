"""The analysts' app live on a free port over a seeded database (`tests.fixtures.analyst_data`),
once per module and dialect (SQLite, the embedded default, and Postgres), with a token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.db import migrate
from tests.fixtures.analyst_app import AnalystApp, serve_analyst_app
from tests.fixtures.db import _create_database, _drop_database, _with_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def analyst_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the module, on each dialect in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('analyst') / 'finsent.db'}"
        migrate.upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("pg_admin_url")
    template = request.getfixturevalue("_pg_template")
    name = _create_database(admin, template=template)
    try:
        yield _with_database(admin, name)
    finally:
        _drop_database(admin, name)


@pytest.fixture(scope="module")
def analyst_app(analyst_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystApp]:
    server, app = serve_analyst_app(analyst_db, tmp_path_factory.mktemp("rules") / "rules.yaml")
    try:
        yield app
    finally:
        server.stop()
        app.engine.dispose()


@pytest.fixture(scope="module")
def sqlite_analyst_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystApp]:
    """The app over the embedded default only (for what does not depend on the dialect)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('analyst-sqlite') / 'finsent.db'}"
    migrate.upgrade(url)
    server, app = serve_analyst_app(url, tmp_path_factory.mktemp("rules") / "rules.yaml")
    try:
        yield app
    finally:
        server.stop()
        app.engine.dispose()
