"""`run_replay` in process (the embedded default) on SQLite with a fake model: new versions,
idempotence, interruption and resume, dead letters, the rate limit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.db import make_engine, migrate
from pipeline.replay.checkpoint import Checkpoint, CheckpointFile, run_id
from pipeline.replay.sources import ArchiveSource, StoredArticles
from pipeline.replay.versioned import with_version
from tests.fixtures.fake_predictor import KeywordPredictor
from tests.fixtures.replay_data import articles, enrichment_rows, stored
from workers.replay import ReplayPlan, run_replay


def fresh(tmp_path: Path, name: str) -> tuple[Settings, Engine]:
    settings = Settings(data_dir=tmp_path / name)
    migrate.upgrade(settings.sqlalchemy_url)
    return settings, make_engine(settings.sqlalchemy_url)


def plan_for(engine: Engine, version: str, **kw: object) -> ReplayPlan:
    args = {"kind": "db", "model_version": version}
    return ReplayPlan(source=StoredArticles(engine), run_id=run_id(args), arguments=args, batch_size=16, **kw)  # type: ignore[arg-type]


def replay(settings: Settings, engine: Engine, version: str, stop: threading.Event | None = None, **kw: object):  # type: ignore[no-untyped-def]
    predictor = with_version(KeywordPredictor("v1"), version)
    return run_replay(plan_for(engine, version, **kw), settings=settings, engine=engine, predictor=predictor,
                      stop=stop or threading.Event(), progress=False)


def test_new_version_adds_rows_and_a_rerun_finds_everything_stored(tmp_path: Path) -> None:
    settings, engine = fresh(tmp_path, "db")
    stored(engine, articles(100))
    first = replay(settings, engine, "v1")
    assert (first.read, first.enriched, first.already_stored, first.dlq) == (100, 100, 0, 0)
    again = replay(settings, engine, "v1")
    assert (again.read, again.enriched, again.already_stored) == (100, 0, 100)
    newer = replay(settings, engine, "v2")
    assert (newer.enriched, newer.already_stored) == (100, 0)
    rows = enrichment_rows(engine)
    assert len(rows) == 200 and {r[1] for r in rows} == {"v1", "v2"}
    assert json.loads(json.dumps(newer.as_dict()))["model_version"] == "v2"


def test_interrupt_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    news = articles(130)
    settings_a, engine_a = fresh(tmp_path, "a")
    settings_b, engine_b = fresh(tmp_path, "b")
    stored(engine_a, news)
    stored(engine_b, news)

    whole = replay(settings_a, engine_a, "v2")
    stop = threading.Event()
    batches: list[Checkpoint] = []

    def after(cp: Checkpoint) -> None:
        batches.append(cp)
        if len(batches) == 3:
            stop.set()

    plan = plan_for(engine_b, "v2")
    predictor = with_version(KeywordPredictor("v1"), "v2")
    part = run_replay(plan, settings=settings_b, engine=engine_b, predictor=predictor, stop=stop,
                      progress=False, on_checkpoint=after)
    assert part.interrupted and part.read == 48 and part.enriched == 48
    saved = CheckpointFile(settings_b.data_dir / "replay", plan.run_id).load()
    assert saved is not None and not saved.completed and saved.counts["read"] == 48

    rest = run_replay(plan, settings=settings_b, engine=engine_b, predictor=predictor, stop=threading.Event(),
                      progress=False)
    assert not rest.interrupted and rest.resumed_from == saved.position
    assert predictor.inner.texts == 130  # type: ignore[attr-defined]  # nothing scored twice
    assert (rest.read, rest.enriched, rest.already_stored) == (whole.read, whole.enriched, whole.already_stored)
    assert enrichment_rows(engine_a) == enrichment_rows(engine_b)


def test_restart_ignores_the_checkpoint(tmp_path: Path) -> None:
    settings, engine = fresh(tmp_path, "db")
    stored(engine, articles(40))
    stop = threading.Event()
    plan = plan_for(engine, "v1")
    part = run_replay(plan, settings=settings, engine=engine, predictor=KeywordPredictor("v1"), stop=stop,
                      progress=False, on_checkpoint=lambda cp: stop.set())
    assert part.interrupted and part.read == 16
    again = replay(settings, engine, "v1", restart=True)
    assert again.resumed_from is None and again.read == 40
    assert (again.enriched, again.already_stored) == (24, 16)


def test_archive_dead_letters_go_to_a_file(tmp_path: Path) -> None:
    settings, engine = fresh(tmp_path, "db")
    path = tmp_path / "news.jsonl"
    path.write_text('{"title": "Acme beats", "published_at": "2020-03-01T10:00:00Z"}\nnot json\n')
    args = {"kind": "file"}
    plan = ReplayPlan(source=ArchiveSource([path]), run_id=run_id(args), arguments=args)
    summary = run_replay(plan, settings=settings, engine=engine, predictor=KeywordPredictor("v1"),
                         stop=threading.Event(), progress=False)
    assert (summary.read, summary.enriched, summary.dlq) == (2, 1, 1)
    letters = (settings.data_dir / "replay" / f"{plan.run_id}.dlq.jsonl").read_text().splitlines()
    assert len(letters) == 1 and json.loads(letters[0])["error_type"] == "InvalidJson"


def test_rate_limit_slows_the_run(tmp_path: Path) -> None:
    settings, engine = fresh(tmp_path, "db")
    stored(engine, articles(48))
    summary = replay(settings, engine, "v1", rate=40.0)
    assert summary.read == 48 and summary.seconds >= 0.15  # 48 docs at 40/s after a 40-doc burst


@pytest.mark.parametrize("version", [None, "fake-1"])
def test_with_version_keeps_the_predictor_when_nothing_changes(version: str | None) -> None:
    p = KeywordPredictor("fake-1")
    assert with_version(p, version) is p
    assert with_version(p, "v9").model_version == "v9"
