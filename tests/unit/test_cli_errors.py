"""`workers.errors.explain`: user mistakes become one line and an exit code; bugs stay tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kafka.errors import KafkaTimeoutError
from sqlalchemy.exc import OperationalError

from alerts.rules import RulesError
from pipeline.config import Settings
from pipeline.db import SchemaMismatchError
from pipeline.model.backbone import BackboneError
from pipeline.model.checkpoint import CheckpointError
from workers.errors import UNAVAILABLE, USAGE, explain


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="postgresql+psycopg://analyst:hunter2@db.internal/finsent", kafka_bootstrap="k:9092"
    )


def test_unreachable_database_names_the_url_without_its_password(settings: Settings) -> None:
    exc = OperationalError("connect", {}, Exception("connection refused\nIs the server running?"))
    problem = explain(exc, settings)
    assert problem is not None and problem.exit_code == UNAVAILABLE
    assert "db.internal/finsent" in problem.message and "FINSENT_DATABASE_URL" in problem.message
    assert "hunter2" not in problem.message and "\n" not in problem.message


def test_unreachable_broker_names_the_setting(settings: Settings) -> None:
    problem = explain(KafkaTimeoutError("Unable to bootstrap from k:9092"), settings)
    assert problem is not None and problem.exit_code == UNAVAILABLE
    assert "k:9092" in problem.message and "FINSENT_KAFKA_BOOTSTRAP" in problem.message


@pytest.mark.parametrize(
    "exc",
    [
        SchemaMismatchError("[D001] behind: run `finsent db upgrade`"),
        RulesError("rules.yaml:3: bad"),
        FileNotFoundError(2, "x", "news.csv"),
        CheckpointError("[M010] no checkpoint at /models/x"),
        BackboneError("backbone weights missing"),
    ],
)
def test_configuration_mistakes_exit_2_with_their_message(settings: Settings, exc: Exception) -> None:
    problem = explain(exc, settings)
    assert problem is not None and problem.exit_code == USAGE


def test_a_bug_is_not_explained_away(settings: Settings) -> None:
    assert explain(ZeroDivisionError("division by zero"), settings) is None
    assert explain(KeyError("topic"), settings) is None


def test_explaining_a_failure_does_not_import_the_model_code() -> None:
    """`finsent db current` against an unreachable database answered after torch's import (seconds)."""
    probe = "import sys, workers.errors; print(sorted(m for m in ('torch', 'pipeline.model') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
