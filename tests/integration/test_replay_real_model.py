"""Replay, resume and compare with the real shipped checkpoint (`pipeline.model.load_predictor()`)
on a small fixed archive (`tests/fixtures/data/replay_archive.csv`: 291 dated headlines and two
records broken over two lines), Postgres, through the `finsent` commands where a user would:

- `finsent replay --file` scores the archive; the two rows without a date are dead letters with the
  reason, not articles stamped "now";
- `finsent replay --from-db` re-scores it under a new version (the int8-quantized model), keeping
  the first version's rows; `finsent compare` then reports what the stored rows say;
- a replay interrupted after its first checkpoint and resumed stores exactly what the
  uninterrupted run stored;
- a replay from a point in time scores exactly the articles from that time on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pipeline.config import Settings
from pipeline.db import Article, Enrichment, make_engine
from pipeline.ingest.sources.archive import ColumnMap
from pipeline.model import Predictor
from pipeline.replay.checkpoint import Checkpoint, run_id
from pipeline.replay.run import ReplayPlan
from pipeline.replay.sources import ArchiveSource, ArticleFilter, StoredArticles, TimeRange
from pipeline.replay.versioned import with_version
from tests.fixtures.db import _create_database, _drop_database, _with_database
from workers import cli
from workers.replay import run_replay

pytestmark = pytest.mark.integration

ARCHIVE = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "replay_archive.csv"
MAP = ["--map", "title=headline", "--map", "published_at=date", "--map", "source=publisher"]
N = 291
FP32, INT8 = "shipped-fp32", "shipped-int8"


@pytest.fixture(scope="module")
def archive_db(pg_admin_url: str, _pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for the module: the archive replayed once by the CLI (fp32), then re-scored
    from the database under the int8 model (each step is a test below, in order)."""
    name = _create_database(pg_admin_url, template=_pg_template)
    try:
        yield _with_database(pg_admin_url, name)
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def env(archive_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("FINSENT_KAFKA_BOOTSTRAP", "FINSENT_MODEL_PATH", "FINSENT_MODEL_QUANTIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINSENT_DATABASE_URL", archive_db)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINSENT_MODEL_DEVICE", "cpu")
    return tmp_path


def rows(engine: Engine, version: str) -> dict[str, tuple[object, ...]]:
    """What `version` said about each article: topic, sentiment, score, probabilities."""
    e = Enrichment
    with engine.connect() as conn:
        found = conn.execute(
            select(e.news_id, e.topic, e.sentiment, e.sentiment_score, e.p_negative, e.p_positive).where(
                e.model_version == version
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in found}


def last_json(out: str) -> dict[str, object]:
    return json.loads(out.strip().splitlines()[-1])


def test_1_archive_replay_with_the_shipped_model(env: Path, archive_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["replay", "--file", str(ARCHIVE), *MAP, "--model-version", FP32, "--no-progress"])
    summary = last_json(capsys.readouterr().out)
    assert code == 0, summary
    assert (summary["read"], summary["enriched"], summary["already_stored"], summary["dlq"]) == (N + 2, N, 0, 2)
    letters = [json.loads(line) for line in Path(summary["checkpoint"]).with_suffix(".dlq.jsonl").read_text().splitlines()]
    assert [letter["error_type"] for letter in letters] == ["NoEventTime", "NoEventTime"]
    assert all("no event time" in letter["reason"] for letter in letters)
    engine = make_engine(archive_db)
    with engine.connect() as conn:
        years = {t.year for t in conn.scalars(select(Article.published_at))}
    scored = rows(engine, FP32)
    engine.dispose()
    assert years == {2011}  # nothing stamped with the time of the replay
    assert len(scored) == N and {s[1] for s in scored.values()} == {"negative", "neutral", "positive"}

    again = cli.main(["replay", "--file", str(ARCHIVE), *MAP, "--model-version", FP32, "--no-progress"])
    summary = last_json(capsys.readouterr().out)
    assert again == 0 and (summary["enriched"], summary["already_stored"]) == (0, N)  # nothing scored twice


def test_2_rescore_under_the_int8_model_and_compare(
    env: Path, archive_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINSENT_MODEL_QUANTIZE", "true")
    code = cli.main(["replay", "--from-db", "--model-version", INT8, "--no-progress"])
    summary = last_json(capsys.readouterr().out)
    assert code == 0 and (summary["read"], summary["enriched"], summary["dlq"]) == (N, N, 0), summary
    engine = make_engine(archive_db)
    fp32, int8 = rows(engine, FP32), rows(engine, INT8)
    engine.dispose()
    assert fp32.keys() == int8.keys() and len(fp32) == N  # the first version's rows are kept
    assert fp32 != int8  # a genuinely different model: its probabilities differ

    assert cli.main(["compare", "--a", FP32, "--b", INT8, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    total = report["topics"][-1]
    changed = sum(fp32[k][1] != int8[k][1] for k in fp32)
    mean_a = sum(float(v[2]) for v in fp32.values()) / N  # type: ignore[arg-type]
    mean_b = sum(float(v[2]) for v in int8.values()) / N  # type: ignore[arg-type]
    assert total["n"] == N and total["changed_labels"] == changed
    assert total["changed_share"] == pytest.approx(changed / N, abs=1e-6) and changed > 0
    assert total["mean_score_a"] == pytest.approx(mean_a, abs=2e-6)
    assert total["mean_delta"] == pytest.approx(mean_b - mean_a, abs=2e-6) and total["mean_delta"] != 0
    assert total["changed_topics"] == sum(fp32[k][0] != int8[k][0] for k in fp32)
    assert sum(t["n"] for t in report["topics"][:-1]) == N


def archive_plan(version: str, **source: object) -> ReplayPlan:
    arguments = {"kind": "file", "model_version": version, **{k: str(v) for k, v in source.items()}}
    return ReplayPlan(
        source=ArchiveSource([ARCHIVE], ColumnMap.parse(["title=headline", "published_at=date", "source=publisher"]),
                             **source),  # type: ignore[arg-type]
        run_id=run_id(arguments),
        arguments=arguments,
        batch_size=128,  # the CLI's default (FINSENT_BATCH_MAX_ITEMS): the same batches as test 1
    )


def same_predictions(got: dict[str, tuple[object, ...]], expected: dict[str, tuple[object, ...]]) -> None:
    """The same labels; scores equal up to float noise (batches padded to other lengths)."""
    assert got.keys() == expected.keys()
    for key, (topic, sentiment, *scores) in got.items():
        assert (topic, sentiment) == expected[key][:2]
        assert scores == pytest.approx(list(expected[key][2:]), abs=1e-4)


def test_3_interrupted_and_resumed_equals_uninterrupted(env: Path, archive_db: str, predictor: Predictor) -> None:
    engine = make_engine(archive_db)
    settings = Settings(data_dir=env / "data")
    scorer = with_version(predictor, "shipped-resumed")
    stop = threading.Event()

    def interrupt(checkpoint: Checkpoint) -> None:
        stop.set()  # Ctrl-C after the first stored batch

    plan = archive_plan("shipped-resumed")
    first = run_replay(plan, settings=settings, engine=engine, predictor=scorer, stop=stop, progress=False,
                       on_checkpoint=interrupt)
    assert first.interrupted and 0 < first.read < N
    assert len(rows(engine, "shipped-resumed")) == first.enriched
    rest = run_replay(plan, settings=settings, engine=engine, predictor=scorer, stop=threading.Event(),
                      progress=False)
    assert not rest.interrupted and rest.resumed_from is not None
    assert (rest.read, rest.enriched, rest.dlq) == (N + 2, N, 2)  # counts carried over the resume
    same_predictions(rows(engine, "shipped-resumed"), rows(engine, FP32))  # as one whole run
    engine.dispose()


def test_4_replay_from_a_point_in_time(env: Path, archive_db: str, predictor: Predictor) -> None:
    engine = make_engine(archive_db)
    since = datetime(2011, 3, 6, tzinfo=UTC)
    source = StoredArticles(engine, ArticleFilter(time_range=TimeRange(since, None)))
    arguments = {"kind": "db", "from": since.isoformat(), "model_version": "shipped-since"}
    plan = ReplayPlan(source=source, run_id=run_id(arguments), arguments=arguments, batch_size=128)
    summary = run_replay(plan, settings=Settings(data_dir=env / "data"), engine=engine,
                         predictor=with_version(predictor, "shipped-since"), stop=threading.Event(), progress=False)
    with engine.connect() as conn:
        later = set(conn.scalars(select(Article.id).where(Article.published_at >= since)))
    since_rows = rows(engine, "shipped-since")
    assert 0 < len(later) < N and summary.enriched == len(later) == len(since_rows)
    same_predictions(since_rows, {k: v for k, v in rows(engine, FP32).items() if k in later})
    engine.dispose()
