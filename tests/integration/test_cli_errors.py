"""Mistakes a new user makes get one clear line and a non-zero exit, not a traceback (per command family).

Each case runs `finsent`'s `main` against a real unreachable database, a real Postgres database
without the schema, or a real closed broker port: in this process, with the environment and the
output a user would have (a fresh process each costs seconds of imports and proves nothing more),
except where the process boundary is the point: the installed executable's exit code and stderr
for an unreachable database, and `--debug`'s traceback printed by the interpreter.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import pytest

from workers.cli import main

pytestmark = pytest.mark.integration

FINSENT = Path(sys.executable).with_name("finsent")
UNREACHABLE_DB = "postgresql+psycopg://finsent:not-the-password@127.0.0.1:1/finsent"
BROKER_TIMEOUT_S = "2"
"""FINSENT_KAFKA_CONNECT_TIMEOUT_S for the closed broker port: how long to wait for a broker that
refuses every connection (the 15 s default only makes the test wait)."""


def run_finsent(
    args: list[str], tmp_path: Path, timeout_s: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """The installed `finsent` executable as a separate process."""
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


class Finsent(Protocol):
    def __call__(self, args: list[str], **env: str) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def finsent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Finsent:
    """`finsent(args, **env)`: `main(args)` in this process with only `env`'s FINSENT_* settings,
    run from `tmp_path` with an empty stdin; its exit code and output as a `CompletedProcess`."""

    def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as patch:
            for name in [k for k in os.environ if k.startswith("FINSENT_")]:
                patch.delenv(name)
            for name, value in {"FINSENT_DATA_DIR": str(tmp_path / "state"), **env}.items():
                patch.setenv(name, value)
            patch.chdir(tmp_path)
            patch.setattr(sys, "stdin", io.StringIO(""))
            capsys.readouterr()
            try:
                code = main(args)
            except SystemExit as exc:  # argparse: --help, bad arguments
                code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["finsent", *args], code, out, err)

    return run


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
def test_an_unreachable_database_is_one_line_naming_the_setting(args: list[str], finsent: Finsent) -> None:
    result = finsent(args, FINSENT_DATABASE_URL=UNREACHABLE_DB)
    assert_one_clear_line(result, "cannot reach the database", "127.0.0.1:1", "FINSENT_DATABASE_URL")
    assert result.returncode == 69
    assert "not-the-password" not in result.stderr


def test_the_executable_exits_69_with_one_line_for_an_unreachable_database(tmp_path: Path) -> None:
    result = run_finsent(["db", "current"], tmp_path, FINSENT_DATABASE_URL=UNREACHABLE_DB)
    assert_one_clear_line(result, "cannot reach the database", "127.0.0.1:1", "FINSENT_DATABASE_URL")
    assert result.returncode == 69
    assert "not-the-password" not in result.stderr


def test_a_database_without_the_schema_says_to_run_db_upgrade(pg_blank_url: str, finsent: Finsent) -> None:
    result = finsent(["silence", "list"], FINSENT_DATABASE_URL=pg_blank_url)
    assert_one_clear_line(result, "[D001]", "finsent db upgrade")
    assert result.returncode == 2
    upgraded = finsent(["db", "upgrade"], FINSENT_DATABASE_URL=pg_blank_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert finsent(["silence", "list"], FINSENT_DATABASE_URL=pg_blank_url).returncode == 0


def test_an_unreachable_broker_is_one_line_naming_the_setting(finsent: Finsent) -> None:
    started = time.monotonic()
    result = finsent(
        ["ingest", "--stdin"],
        FINSENT_KAFKA_BOOTSTRAP="127.0.0.1:1",
        FINSENT_KAFKA_CONNECT_TIMEOUT_S=BROKER_TIMEOUT_S,
    )
    assert_one_clear_line(result, "cannot reach the Kafka broker at 127.0.0.1:1", "FINSENT_KAFKA_BOOTSTRAP")
    assert result.returncode == 69
    assert time.monotonic() - started < 12, "FINSENT_KAFKA_CONNECT_TIMEOUT_S was not honoured (default 15 s)"


def test_a_bad_setting_names_the_variable(finsent: Finsent) -> None:
    result = finsent(["db", "current"], FINSENT_BATCH_MAX_ITEMS="-3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == "finsent: setting FINSENT_BATCH_MAX_ITEMS: Input should be greater than or equal to 1"
    )


def test_a_missing_input_file_is_one_line(finsent: Finsent) -> None:
    result = finsent(["alerts", "check-rules", "no-such-rules.yaml"])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no-such-rules.yaml: cannot read" in result.stdout + result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_finsent(["--debug", "db", "current"], tmp_path, FINSENT_DATABASE_URL=UNREACHABLE_DB)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_help_speaks_to_users(finsent: Finsent) -> None:
    result = finsent(["--help"])
    assert result.returncode == 0
    assert "workers/commands" not in result.stdout
    for command in ("ingest", "worker", "demo", "replay", "backtest", "alerts"):
        assert command in result.stdout
    assert "FINSENT_" in result.stdout
