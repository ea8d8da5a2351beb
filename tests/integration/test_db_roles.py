"""The compose database roles on real Postgres: the shipped first-start script makes an owner that
runs the migrations and an app role that reads and writes rows but cannot change the schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from pipeline.db import make_engine, migrate
from pipeline.db.gate import require_head
from pipeline.ingest.dedup import DedupKey
from pipeline.ingest.seen import SeenStore
from schemas import RawNews
from tests.fixtures.services import service_missing

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "postgres"


class Roles:
    def __init__(self, admin_url: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.admin_url = admin_url
        self.db, self.owner, self.app = f"finsent_test_roles_{suffix}", f"owner_{suffix}", f"app_{suffix}"

    def url(self, role: str) -> str:
        return (
            make_url(self.admin_url)
            .set(username=role, password="pw", database=self.db)
            .render_as_string(False)
        )


@pytest.fixture
def roles(pg_admin_url: str) -> Iterator[Roles]:
    if shutil.which("psql") is None:
        service_missing("psql (the postgres image runs the roles script with it)", "not on PATH")
    made = Roles(pg_admin_url)
    admin = make_url(pg_admin_url)
    env = {
        **os.environ,
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGPASSWORD": admin.password or "",
        "POSTGRES_USER": admin.username or "postgres",
        "FINSENT_DB_NAME": made.db,
        "FINSENT_DB_OWNER": made.owner,
        "FINSENT_DB_APP": made.app,
        "FINSENT_DB_OWNER_PASSWORD": "pw",
        "FINSENT_DB_APP_PASSWORD": "pw",
        "FINSENT_ROLES_SQL": str(DEPLOY / "roles.sql"),
    }
    script = subprocess.run(
        ["bash", str(DEPLOY / "10-finsent-roles.sh")], env=env, capture_output=True, text=True
    )
    assert script.returncode == 0, script.stderr
    try:
        yield made
    finally:
        engine = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{made.db}" WITH (FORCE)'))
            for role in (made.app, made.owner):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


def test_the_owner_migrates_and_the_app_only_reads_and_writes_rows(roles: Roles) -> None:
    migrate.upgrade(roles.url(roles.owner))
    require_head(roles.url(roles.app))  # what every service does on start

    engine = make_engine(roles.url(roles.app))
    try:
        raw = RawNews(
            source="wire", title="Acme beats estimates", published_at=datetime(2026, 1, 5, tzinfo=UTC)
        )
        store = SeenStore(engine)
        assert store.record([DedupKey.of(raw)]) == 1
        assert store.candidates([DedupKey.of(raw)]) != []
        with engine.connect() as conn:
            tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
            assert len(tables) > 5
            for table in tables:
                for privilege, granted in (
                    ("SELECT", True),
                    ("DELETE", True),
                    ("TRUNCATE", False),
                    ("TRIGGER", False),
                ):
                    held = conn.scalar(
                        text("SELECT has_table_privilege(:t, :p)"), {"t": table, "p": privilege}
                    )
                    assert held is granted, (table, privilege)
            assert (
                conn.scalar(
                    text(
                        "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
                    )
                )
                is False
            )
        for ddl in (
            "CREATE TABLE intruder (x int)",
            "DROP TABLE articles",
            "ALTER TABLE articles ADD COLUMN intruder int",
            "CREATE TEMPORARY TABLE intruder (x int)",
        ):
            with (
                engine.connect() as conn,
                pytest.raises(ProgrammingError, match="permission denied|must be owner"),
            ):
                conn.execute(text(ddl))
    finally:
        engine.dispose()
