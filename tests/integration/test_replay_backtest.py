"""`finsent backtest` on Postgres: byte-identical files, the planted burst found at the right
time, the same alerts as the live engine's SQL tick, and delivery marked as backtest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.backtest import run_backtest
from alerts.backtest_report import event_record
from alerts.engine import AlertEngine
from alerts.local_receiver import LocalReceiver
from alerts.planner import tick_times
from alerts.rules import DEFAULT_RULES_PATH, load_rules
from alerts.state_store import InMemoryStateStore
from pipeline.db import make_engine, store_batch
from tests.fixtures.alerts_data import MODEL_VERSION, stream
from tests.fixtures.db import _create_database, _drop_database, _with_database
from workers import cli

pytestmark = pytest.mark.integration

START = datetime(2020, 3, 1, tzinfo=UTC)
BURST = START + timedelta(days=7, hours=10)


@pytest.fixture(scope="module")
def history_url(pg_admin_url: str, _pg_template: str) -> Iterator[str]:
    """One database holding a week of history for the whole module (storing it takes seconds)."""
    name = _create_database(pg_admin_url, template=_pg_template)
    url = _with_database(pg_admin_url, name)
    engine = make_engine(url)
    raws, enriched = stream(
        ["Earnings", "Macro"], START, START + timedelta(days=7, hours=13), every=timedelta(seconds=90),
        burst_topic="Earnings", burst_start=BURST, burst_end=BURST + timedelta(minutes=40),
    )
    for i in range(0, len(raws), 2_000):
        store_batch(engine, raws[i : i + 2_000], enriched[i : i + 2_000])
    engine.dispose()
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def history(history_url: str) -> Iterator[Engine]:
    engine = make_engine(history_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, history_url: str, tmp_path: Path) -> Path:
    for name in ("FINSENT_KAFKA_BOOTSTRAP", "FINSENT_RULES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINSENT_ALERTS_MODEL_VERSION", MODEL_VERSION)
    monkeypatch.setenv("FINSENT_DATABASE_URL", history_url)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_backtest_twice_gives_identical_files_and_finds_the_burst(
    history: Engine, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for run in ("one", "two"):
        out = cli_env / run / "alerts.json"
        code = cli.main(["backtest", "--from", (BURST - timedelta(hours=2)).isoformat(),
                         "--to", (BURST + timedelta(hours=3)).isoformat(), "--step", "30", "--out", str(out)])
        assert code == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["ticks"] == 5 * 120 + 1 and summary["firing"] >= 1
        outputs.append((out.read_bytes(), out.with_suffix(".csv").read_bytes()))
    assert outputs[0] == outputs[1]

    doc = json.loads(outputs[0][0])
    firing = [a for a in doc["alerts"] if a["status"] == "firing" and a["rule"] == "negative-spike"]
    assert [a["topic"] for a in firing] == ["Earnings"]
    fired_at = datetime.fromisoformat(firing[0]["emitted_at"])
    assert BURST + timedelta(minutes=5) <= fired_at <= BURST + timedelta(minutes=20)
    assert datetime.fromisoformat(firing[0]["window_start"]) >= BURST - timedelta(minutes=15)
    assert firing[0]["figures"]["z"] >= 3.0 and firing[0]["backtest"] is True
    assert {a["topic"] for a in doc["alerts"]} == {"Earnings"}
    csv_lines = outputs[0][1].decode().splitlines()
    assert len(csv_lines) == len(doc["alerts"]) + 1


def test_backtest_agrees_with_the_live_engine_tick(history: Engine) -> None:
    """The live SQL tick at every grid instant (Postgres) and the event-driven backtest: the same
    events, ids included, from an off-grid start."""
    rules = load_rules(DEFAULT_RULES_PATH)
    start, end = BURST - timedelta(minutes=30, seconds=7), BURST + timedelta(hours=1, minutes=30)
    step = timedelta(seconds=30)
    engine = AlertEngine(history, rules, InMemoryStateStore(), model_version=MODEL_VERSION, use_silences=False)
    live: list[dict[str, object]] = []
    for now in tick_times(start, end, step):
        live += [event_record(e) for e in engine.tick(now).events]
    backtest = [event_record(e) for e in run_backtest(history, rules, MODEL_VERSION, start, end, step).events]
    live.sort(key=lambda r: (r["emitted_at"], r["rule"], r["fingerprint"], r["status"]))
    assert len(live) >= 3 and len(backtest) == len(live)
    for got, expected in zip(backtest, live, strict=True):
        # score sums come from prefix sums here and from SQL SUM there: equal up to float rounding
        assert got.pop("figures") == pytest.approx(expected.pop("figures"), rel=1e-9, abs=1e-12)
        assert got == expected


def test_deliver_sends_the_alerts_marked_backtest(
    history: Engine, cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with LocalReceiver(secret) as receiver:
        monkeypatch.setenv("FINSENT_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("FINSENT_WEBHOOK_SECRET", secret)
        out = cli_env / "alerts.json"
        code = cli.main(["backtest", "--from", (BURST - timedelta(hours=1)).isoformat(),
                         "--to", (BURST + timedelta(hours=2)).isoformat(), "--topic", "Earnings",
                         "--out", str(out), "--deliver", "default"])
        assert code == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        alerts = json.loads(out.read_text())["alerts"]
        assert summary["delivery"] == {"queued": len(alerts), "delivered": len(alerts), "failed": 0}
        bodies = [d.json for d in receiver.log.deliveries]
    assert len(bodies) == len(alerts) >= 2
    assert all(b["backtest"] is True for b in bodies)
    assert sorted((b["rule"], b["status"], b["emitted_at"]) for b in bodies) == sorted(
        (a["rule"], a["status"], a["emitted_at"]) for a in alerts)


def test_unknown_receiver_is_a_usage_error(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["backtest", "--out", str(cli_env / "a.json"), "--deliver", "nobody"]) == 2
    assert "no receiver 'nobody'" in capsys.readouterr().err
