"""Settings: environment prefix, defaults, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings


def test_defaults_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("FINSENT_DATABASE_URL", "FINSENT_KAFKA_BOOTSTRAP", "FINSENT_DATA_DIR"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings()
    assert settings.kafka_bootstrap is None
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / '.finsent' / 'finsent.db'}"
    assert settings.topic_raw == "news.raw" and settings.topic_dlq == "news.dlq"


def test_environment_overrides_and_secret_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/x")
    monkeypatch.setenv("FINSENT_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("FINSENT_KAFKA_PARTITIONS", "8")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:hunter2@db/x"
    assert "hunter2" not in repr(settings)
    assert settings.kafka_bootstrap == "kafka:9092" and settings.kafka_partitions == 8


def test_invalid_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_KAFKA_PARTITIONS", "0")
    with pytest.raises(ValueError, match="kafka_partitions"):
        Settings()
