"""Mistakes a new user makes get one clear line and a non-zero exit, not a traceback (per command family).

Each case runs the real `finsent` executable, as a user would, against a real unreachable
database, a real Postgres database without the schema, or a real closed broker port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

FINSENT = Path(sys.executable).with_name("finsent")
UNREACHABLE_DB = "postgresql+psycopg://finsent:not-the-password@127.0.0.1:1/finsent"


def run_finsent(
    args: list[str], tmp_path: Path, timeout_s: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    environ.update({"FINSENT_DATA_DIR": str(tmp_path / "state"), **env})
    return subprocess.run(
        [str(FINSENT), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=timeout_s,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr  # the message, and how to see the traceback
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["db", "upgrade"],
        ["db", "current"],
        ["alerts", "evaluate"],
        ["alerts", "deliveries"],
        ["silence", "list"],
        ["replay", "--from-db", "--model-version", "v2", "--via", "process"],
        ["backtest", "--out", "alerts.json"],
        ["compare", "--a", "v1", "--b", "v2"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_unreachable_database_is_one_line_naming_the_setting(args: list[str], tmp_path: Path) -> None:
    result = run_finsent(args, tmp_path, FINSENT_DATABASE_URL=UNREACHABLE_DB)
    assert_one_clear_line(result, "cannot reach the database", "127.0.0.1:1", "FINSENT_DATABASE_URL")
    assert result.returncode == 69
    assert "not-the-password" not in result.stderr


def test_a_database_without_the_schema_says_to_run_db_upgrade(pg_blank_url: str, tmp_path: Path) -> None:
    result = run_finsent(["silence", "list"], tmp_path, FINSENT_DATABASE_URL=pg_blank_url)
    assert_one_clear_line(result, "[D001]", "finsent db upgrade")
    assert result.returncode == 2
    upgraded = run_finsent(["db", "upgrade"], tmp_path, FINSENT_DATABASE_URL=pg_blank_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run_finsent(["silence", "list"], tmp_path, FINSENT_DATABASE_URL=pg_blank_url).returncode == 0


def test_an_unreachable_broker_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    result = run_finsent(["ingest", "--stdin"], tmp_path, FINSENT_KAFKA_BOOTSTRAP="127.0.0.1:1")
    assert_one_clear_line(result, "cannot reach the Kafka broker at 127.0.0.1:1", "FINSENT_KAFKA_BOOTSTRAP")


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = run_finsent(["db", "current"], tmp_path, FINSENT_BATCH_MAX_ITEMS="-3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == "finsent: setting FINSENT_BATCH_MAX_ITEMS: Input should be greater than or equal to 1"
    )


def test_a_missing_input_file_is_one_line(tmp_path: Path) -> None:
    result = run_finsent(["alerts", "check-rules", "no-such-rules.yaml"], tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no-such-rules.yaml: cannot read" in result.stdout + result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_finsent(["--debug", "db", "current"], tmp_path, FINSENT_DATABASE_URL=UNREACHABLE_DB)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_help_speaks_to_users(tmp_path: Path) -> None:
    result = run_finsent(["--help"], tmp_path)
    assert result.returncode == 0
    assert "workers/commands" not in result.stdout
    for command in ("ingest", "worker", "demo", "replay", "backtest", "alerts"):
        assert command in result.stdout
    assert "FINSENT_" in result.stdout
