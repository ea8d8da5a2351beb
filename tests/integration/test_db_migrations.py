"""Migrations: upgrade, downgrade and upgrade again; the migrated schema equals the models."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from pipeline.db import TABLE_NAMES, Base, make_engine, migrate

pytestmark = pytest.mark.integration


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    assert _tables(url) == TABLE_NAMES
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _tables(url) == set()
    migrate.upgrade(url)
    assert _tables(url) == TABLE_NAMES


def test_round_trip_postgres(pg_blank_url: str) -> None:
    _round_trip(pg_blank_url)


def test_round_trip_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'nested' / 'finsent.db'}")


def test_migrated_schema_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == [], "models and migrations differ; write a migration"


def test_cli_db_upgrade(
    pg_blank_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.cli import main

    monkeypatch.setenv("FINSENT_DATABASE_URL", pg_blank_url)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # the CLI reconfigures logging
    monkeypatch.setattr(root, "level", root.level)

    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == migrate.head()
    assert _tables(pg_blank_url) == TABLE_NAMES

    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == migrate.head()

    assert main(["db", "downgrade", "--revision", "base"]) == 0
    assert capsys.readouterr().out.strip() == "base"
    assert _tables(pg_blank_url) == set()
