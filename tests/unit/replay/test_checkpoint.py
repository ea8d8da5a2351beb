"""Checkpoints: run ids, JSON round trip, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.replay.checkpoint import Checkpoint, CheckpointFile, run_id


def test_run_id_is_stable_and_ignores_key_order() -> None:
    a = {"kind": "db", "topics": ["Macro"], "from": "2020-03-01T00:00:00+00:00", "model_version": "v2"}
    b = dict(reversed(list(a.items())))
    assert run_id(a) == run_id(b) == run_id(dict(a))
    assert len(run_id(a)) == 16
    assert run_id(a) != run_id({**a, "model_version": "v3"})
    assert run_id(a) != run_id({**a, "topics": ["Earnings"]})


def test_round_trip(tmp_path: Path) -> None:
    files = CheckpointFile(tmp_path / "replay", "abc")
    assert files.load() is None
    cp = Checkpoint(run_id="abc", arguments={"kind": "db"}, position={"after": ["2020-03-01T00:00:00+00:00", "x"]})
    cp.counts.update(read=10, enriched=7, already_stored=2, dlq=1)
    cp.batches = 3
    files.save(cp)
    assert files.load() == cp
    cp.completed = True
    files.save(cp)
    assert files.load() == cp
    assert [p.name for p in (tmp_path / "replay").iterdir()] == ["abc.json"]


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = CheckpointFile(tmp_path, "run")
    first = Checkpoint(run_id="run", arguments={}, position={"records": 5})
    files.save(first)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.save(Checkpoint(run_id="run", arguments={}, position={"records": 9}))
    monkeypatch.undo()
    assert files.load() == first
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_unreadable_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="--restart"):
        CheckpointFile(tmp_path, "bad").load()
