"""Operations: the alerts worker on its schedule, silences, the CLI, and the demo hook."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.demo import run_demo_alerts
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.engine import AlertEngine
from alerts.local_receiver import LocalReceiver
from alerts.receivers import Receiver
from alerts.rules import DEFAULT_RULES_PATH, RulesFile, load_rules
from alerts.silences import add_silence
from alerts.state_store import SqlStateStore
from pipeline.config import Settings
from pipeline.db import store_batch
from pipeline.kafka.clients import make_producer
from schemas import utc_now
from tests.fixtures.alerts_data import MODEL_VERSION, item, stream
from workers.alerts_worker import AlertsWorker, kafka_publisher

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOPICS = ("Earnings", "Macro", "IPO")


def test_worker_fires_and_delivers_on_its_schedule(pg_engine: Engine, kafka_settings: Settings) -> None:
    now = utc_now()
    raws, enriched = stream(
        TOPICS,
        now - timedelta(hours=12),
        now,
        burst_topic="Earnings",
        burst_start=now - timedelta(minutes=20),
        burst_end=now + timedelta(minutes=1),
    )
    store_batch(pg_engine, raws, enriched)
    producer = make_producer(kafka_settings.kafka_bootstrap or "")
    with LocalReceiver(SECRET) as rx:
        receivers = {"desk": Receiver(name="desk", url=rx.url, secret=SecretStr(SECRET))}
        engine = AlertEngine(
            pg_engine,
            RulesFile(DEFAULT_RULES_PATH).current,
            SqlStateStore(pg_engine, receivers),
            receivers=["desk"],
            model_version=MODEL_VERSION,
            publish=kafka_publisher(producer, kafka_settings.topic_alerts),
        )
        dispatcher = Dispatcher(pg_engine, receivers, policy=RetryPolicy(base_s=0.1, cap_s=0.5))
        worker = AlertsWorker(engine, dispatcher, interval_s=0.3, dispatch_interval_s=0.2, lateness_s=0)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (rx.log.deliveries and worker.totals["evaluations"] >= 2):
            time.sleep(0.1)
        running = worker.health()
        stop.set()
        thread.join(timeout=10)
    producer.close()
    assert not thread.is_alive(), "the worker stops when asked"
    assert [d.json["topic"] for d in rx.log.deliveries] == ["Earnings"]
    assert running["last_error"] is None and running["last_tick_at"] is not None
    assert worker.totals["fired"] == 1 and worker.totals["evaluations"] >= 2, worker.totals
    assert (
        worker.metrics.registry.get_sample_value("finsent_alerts_events_total", {"status": "firing"}) == 1.0
    )


@pytest.mark.slow
def test_silence_mutes_the_burst_and_resolution_is_not_sent(pg_engine: Engine) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    burst = start + timedelta(hours=20)
    raws, enriched = stream(
        TOPICS,
        start,
        burst + timedelta(hours=1),
        burst_topic="Earnings",
        burst_start=burst,
        burst_end=burst + timedelta(minutes=30),
    )
    store_batch(pg_engine, raws, enriched)
    add_silence(
        pg_engine,
        {"topic": "Earnings"},
        now=burst - timedelta(minutes=5),
        duration=timedelta(hours=2),
        comment="known story",
        created_by="test",
    )
    engine = AlertEngine(
        pg_engine, load_rules(DEFAULT_RULES_PATH), SqlStateStore(pg_engine, {}), model_version=MODEL_VERSION
    )
    silenced, events = set(), []
    now = burst
    while now < burst + timedelta(hours=1):
        result = engine.tick(now)
        silenced.update(result.silenced)
        events += result.events
        now += timedelta(minutes=1)
    assert events == [] and len(silenced) == 1


def main(argv: list[str]) -> int:
    """`finsent` with just the alerts and silence commands (the commands' own parsers and handlers)."""
    import argparse

    from workers.commands import alerts as alerts_cmd
    from workers.commands import model as model_cmd
    from workers.commands import silence as silence_cmd

    parser = argparse.ArgumentParser(prog="finsent")
    sub = parser.add_subparsers(dest="command", required=True)
    alerts_cmd.register(sub)
    silence_cmd.register(sub)
    model_cmd.register_activation(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args, Settings()))


@pytest.fixture
def cli_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FINSENT_DATABASE_URL", pg_url)
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    return pg_url


def test_cli_silence_add_list_expire(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["silence", "add", "--topic", "Energy | Oil", "--for", "2h", "--comment", "OPEC day"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["matchers"] == {"topic": "Energy | Oil"} and added["comment"] == "OPEC day"
    assert main(["silence", "list"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [added["id"]]
    assert main(["silence", "expire", str(added["id"])]) == 0
    capsys.readouterr()
    assert main(["silence", "list"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["silence", "list", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["silence", "expire", str(added["id"])]) == 1


def test_cli_alerts_evaluate_and_check_rules(
    cli_env: str, pg_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    burst = start + timedelta(hours=20)
    raws, enriched = stream(
        TOPICS,
        start,
        burst + timedelta(minutes=30),
        burst_topic="Macro",
        burst_start=burst,
        burst_end=burst + timedelta(minutes=30),
    )
    store_batch(pg_engine, raws, enriched)
    at = (burst + timedelta(minutes=20)).isoformat()
    assert main(["model", "active"]) == 1  # nothing active: live alerts evaluate nothing
    assert json.loads(capsys.readouterr().out)["stored"] == {MODEL_VERSION: len(enriched)}
    assert main(["model", "activate", "no-such-version"]) == 1
    assert main(["model", "activate", MODEL_VERSION, "--comment", "test"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == MODEL_VERSION
    assert main(["alerts", "evaluate", "--at", at]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    active = [line for line in lines if "labels" in line and line["active"]]
    assert [(a["rule"], a["labels"]["topic"]) for a in active] == [("negative-spike", "Macro")]
    assert lines[-1]["committed"] is False and lines[-1]["events"] == 0  # for: 2 -> pending only

    assert main(["alerts", "check-rules"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    kind: volume_spike\n    window: soon\n")
    assert main(["alerts", "check-rules", str(bad)]) == 1
    assert f"{bad}:4: rules[0].window" in capsys.readouterr().out
    assert main(["alerts", "deliveries"]) == 0
    assert json.loads(capsys.readouterr().out) == {"pending": 0, "delivered": 0, "failed": 0}


def _demo_sample(start: datetime) -> tuple[list, list]:
    """Like the bundled sample: ~60 items over five hours, many topics, a few negative in Earnings."""
    topics = ["Macro", "Markets", "IPO", "Dividend", "Energy | Oil", "Currencies"]
    pairs = [
        item(topics[i % len(topics)], start + timedelta(minutes=5 * i), ("neutral", "positive")[i % 2], i)
        for i in range(56)
    ]
    pairs += [
        item("Earnings", start + timedelta(minutes=m), s, 100 + m, ticker="MRDN")
        for m, s in ((8, "negative"), (16, "negative"), (60, "positive"), (200, "neutral"))
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_demo_hook_fires_and_delivers(db_engine: Engine) -> None:
    raws, enriched = _demo_sample(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))
    store_batch(db_engine, raws, enriched)
    with LocalReceiver(SECRET) as rx:
        result = run_demo_alerts(db_engine, Settings(), rx.url, SECRET, model_version=MODEL_VERSION)
        assert rx.log.rejected == []
        assert [(d.json["status"], d.json["topic"]) for d in rx.log.deliveries] == [
            ("firing", "Earnings"),
            ("resolved", "Earnings"),
        ]
    fired, delivered = result[:2]
    assert (fired, delivered, result.alerts_resolved) == (1, 2, 1)


def test_demo_hook_starts_its_own_receiver(sqlite_url: str) -> None:
    from pipeline.db import make_engine

    engine = make_engine(sqlite_url)
    raws, enriched = _demo_sample(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))
    store_batch(engine, raws, enriched)
    assert run_demo_alerts(engine, Settings(), model_version=MODEL_VERSION)[:2] == (1, 2)
    engine.dispose()


def test_failed_publish_is_retried_after_the_next_tick(pg_engine: Engine) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    burst = start + timedelta(hours=12)
    raws, enriched = stream(
        TOPICS,
        start,
        burst + timedelta(minutes=30),
        burst_topic="IPO",
        burst_start=burst,
        burst_end=burst + timedelta(minutes=30),
    )
    store_batch(pg_engine, raws, enriched)
    published: list[str] = []
    calls = {"n": 0}

    def flaky(events: list) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("broker down")
        published.extend(f"{e.status}:{e.topic}" for e in events)

    engine = AlertEngine(
        pg_engine,
        load_rules(DEFAULT_RULES_PATH),
        SqlStateStore(pg_engine, {}),
        model_version=MODEL_VERSION,
        publish=flaky,
    )
    now, fired_at = burst, None
    while fired_at is None and now < burst + timedelta(minutes=30):
        if engine.tick(now).firing:
            fired_at = now
        now += timedelta(minutes=1)
    assert fired_at is not None and published == []  # the first publish failed; the event is stored
    engine.tick(now)
    assert published == ["firing:IPO"]
    engine.tick(now + timedelta(minutes=1))
    assert published == ["firing:IPO"]  # published once
