"""`finsent replay` and `finsent compare` end to end on the embedded default (SQLite, in process)."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.db import make_engine, migrate
from tests.fixtures.fake_predictor import KeywordPredictor
from tests.fixtures.replay_data import articles, stored
from workers import cli
from workers.commands import replay as replay_command


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("FINSENT_KAFKA_BOOTSTRAP", "FINSENT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(replay_command, "load_predictor_for", lambda args, settings: KeywordPredictor("base-1"))
    settings = Settings()
    migrate.upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    stored(engine, articles(60))
    engine.dispose()
    return settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_replay_twice_then_under_a_new_version_then_compare(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "replay", "--from-db", "--no-progress")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0
    assert {k: summary[k] for k in ("read", "enriched", "already_stored", "dlq")} == {
        "read": 60, "enriched": 60, "already_stored": 0, "dlq": 0}
    assert summary["model_version"] == "base-1" and summary["via"] == "process" and "seconds" in summary

    code, out = run(capsys, "replay", "--from-db", "--no-progress")
    assert json.loads(out)["already_stored"] == 60

    code, out = run(capsys, "replay", "--from-db", "--no-progress", "--model-version", "base-2",
                    "--from", "2020-03-01T00:10", "--to", "2020-03-01T00:20")
    assert code == 0 and json.loads(out)["enriched"] == 20

    code, out = run(capsys, "compare", "--a", "base-1", "--b", "base-2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["topics"][-1]["n"] == 20 and doc["topics"][-1]["changed_share"] == 0.0
    code, out = run(capsys, "compare", "--a", "base-1", "--b", "base-2")
    assert "ALL" in out and "topic" in out.splitlines()[1]
    code, out = run(capsys, "compare", "--a", "base-1", "--b", "nothing")
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay"], "exactly one source"),
        (["replay", "--from-db", "--file", "x.csv"], "exactly one source"),
        (["replay", "--file", "missing.csv"], "no such file"),
        (["replay", "--from-db", "--map", "title=h"], "--map applies to --file"),
        (["replay", "--from-kafka", "--topic", "Macro"], "only apply to --from-db"),
        (["replay", "--from-db", "--from", "2020-13-01"], "--from"),
        (["replay", "--from-db", "--from", "2020-03-02", "--to", "2020-03-01"], "before --to"),
        (["replay", "--from-db", "--rate", "0"], "--rate"),
    ],
)
def test_bad_options_exit_2(env: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


class InterruptingPredictor(KeywordPredictor):
    """Sends this process SIGINT (Ctrl-C) while scoring its second batch."""

    def predict(self, texts):  # type: ignore[no-untyped-def]
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return super().predict(texts)


def test_ctrl_c_finishes_the_batch_checkpoints_and_resumes(
    env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_command, "load_predictor_for", lambda a, s: InterruptingPredictor("base-1"))
    code, out = run(capsys, "replay", "--from-db", "--no-progress", "--batch-size", "16")
    first = json.loads(out)
    assert code == 130 and first["interrupted"] and first["read"] == first["enriched"] == 32
    monkeypatch.setattr(replay_command, "load_predictor_for", lambda a, s: KeywordPredictor("base-1"))
    code, out = run(capsys, "replay", "--from-db", "--no-progress", "--batch-size", "16")
    rest = json.loads(out)
    assert code == 0 and rest["resumed_from"] is not None and not rest["interrupted"]
    assert (rest["read"], rest["enriched"], rest["already_stored"]) == (60, 60, 0)


def test_from_kafka_needs_a_broker(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "--from-kafka", "--no-progress"]) == 2
    assert "FINSENT_KAFKA_BOOTSTRAP" in capsys.readouterr().err


def test_run_id_follows_what_is_replayed_not_how_fast(env: Settings) -> None:
    parser = cli.build_parser()

    def arguments(*argv: str) -> dict[str, object]:
        args: argparse.Namespace = parser.parse_args(["replay", *argv])
        return replay_command.source_arguments(args, env)

    base = arguments("--from-db", "--topic", "B", "--topic", "A")
    assert base == arguments("--from-db", "--topic", "A", "--topic", "B", "--rate", "5", "--batch-size", "8")
    assert base != arguments("--from-db", "--topic", "A")
    assert base["from"] is None and arguments("--from-db", "--from", "2020-03-01")["from"] == "2020-03-01T00:00:00+00:00"


def test_replay_an_archive_with_a_column_map(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "archive.csv"
    path.write_text(
        "headline,date,link\n"
        "Acme beats estimates,2020-03-01T10:00:00Z,https://e.com/1\n"
        "Acme misses estimates,2020-03-02 10:00:00,https://e.com/2\n"
        ",2020-03-02T11:00:00Z,https://e.com/3\n"
    )
    argv = ["replay", "--file", str(path), "--map", "title=headline", "--map", "published_at=date",
            "--source", "archive", "--no-progress", "--model-version", "arch-1"]
    code, out = run(capsys, *argv)
    summary = json.loads(out)
    assert code == 0 and (summary["read"], summary["enriched"], summary["dlq"]) == (3, 2, 1)
    code, out = run(capsys, *argv)
    assert json.loads(out)["already_stored"] == 2
