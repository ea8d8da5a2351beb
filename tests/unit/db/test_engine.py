"""make_engine on SQLite: creates the folder, turns on WAL and foreign keys."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from pipeline.db import make_engine, session_factory


def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "finsent.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1
        assert path.exists()
        with session_factory(engine)() as session:
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_foreign_keys_can_be_left_off_for_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_foreign_keys=False)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA foreign_keys")) == 0
    finally:
        engine.dispose()
