"""The active model version: the first live model worker activates its version once, never again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from pipeline.db.activation import activate, activate_first, active_version

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_first_version_is_activated_once_and_later_ones_never_implicitly(db_engine: Engine) -> None:
    assert active_version(db_engine).source == "none"
    assert activate_first(db_engine, "minilm-v1", now=T0, by="finsent worker model")
    assert not activate_first(db_engine, "minilm-v2", now=T0 + timedelta(hours=1), by="finsent worker model")
    found = active_version(db_engine)
    assert (found.model_version, found.source, found.activated_by) == (
        "minilm-v1",
        "activated",
        "finsent worker model",
    )


def test_an_explicit_activation_is_never_overridden(db_engine: Engine) -> None:
    activate(db_engine, "minilm-v2", now=T0, by="analyst")
    assert not activate_first(db_engine, "minilm-v1", now=T0 + timedelta(hours=1), by="finsent worker model")
    assert active_version(db_engine).model_version == "minilm-v2"


def test_the_setting_wins_over_the_stored_activation(db_engine: Engine) -> None:
    activate_first(db_engine, "minilm-v1", now=T0, by="finsent worker model")
    assert active_version(db_engine, "minilm-v3").model_version == "minilm-v3"
