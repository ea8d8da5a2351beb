"""`finsent ingest --file samples/news.jsonl` through the command handler into a real broker."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.ingest.samples import NEWS_JSONL
from schemas import DeadLetter, RawNews, decode
from tests.fixtures import sample_counts as sample
from tests.fixtures.ingest import read_topic
from tests.fixtures.kafka import KafkaTopics
from workers.commands import ingest as ingest_command

pytestmark = pytest.mark.integration


def ingest(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, int]:
    parser = argparse.ArgumentParser(prog="finsent")
    ingest_command.register(parser.add_subparsers())
    args = parser.parse_args(["ingest", *argv])
    assert args.handler(args, settings) == 0
    summary: dict[str, int] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return summary


def test_ingest_file_into_kafka_and_a_rerun_sends_nothing_again(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    kafka_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = kafka_settings.model_copy(update={"data_dir": tmp_path})  # its own SQLite dedup store
    summary = ingest(settings, capsys, "--file", str(NEWS_JSONL), "--batch", "16")
    assert summary == sample.COUNTS

    raw = read_topic(kafka_bootstrap, kafka_topics.raw, summary["produced"])
    dlq = read_topic(kafka_bootstrap, kafka_topics.dlq, summary["dlq"])
    assert len(raw) == summary["produced"] and len(dlq) == summary["dlq"]
    assert summary["ingested"] == len(raw) + summary["deduplicated"] + len(dlq)

    news = [decode(r.value, RawNews) for r in raw]
    assert all(isinstance(n, RawNews) for n in news)
    assert {r.key for r in raw} == {n.id.encode() for n in news}  # type: ignore[union-attr]
    assert len({n.id for n in news}) == len(news)  # type: ignore[union-attr]

    letters = [decode(r.value, DeadLetter) for r in dlq]
    assert all(isinstance(d, DeadLetter) and d.stage == "ingest" for d in letters)
    reasons = sorted(d.reason for d in letters)  # type: ignore[union-attr]
    assert "published_at" in reasons[0] and "title" in reasons[1]
    assert all(json.loads(d.payload) for d in letters)  # type: ignore[union-attr]

    rerun = ingest(settings, capsys, "--file", str(NEWS_JSONL))  # a restart: dedup is in the database
    assert rerun == sample.COUNTS | {"produced": 0, "deduplicated": sample.INGESTED - sample.DLQ}
    assert len(read_topic(kafka_bootstrap, kafka_topics.raw, summary["produced"])) == summary["produced"]


def test_bad_rows_are_dead_lettered_and_the_run_goes_on(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    kafka_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = tmp_path / "archive.csv"
    archive.write_bytes(
        b"headline,date,link\n"
        b"Acme beats estimates,2026-11-27T14:00:00Z,https://example.com/1\n"
        b"Bad date here,31/31/2026,https://example.com/2\n"
        b"Too many cells,2026-11-27T14:00:00Z,https://example.com/3,extra\n"
        b",2026-11-27T14:00:00Z,https://example.com/4\n"
        b"Not UTF-8 \xff\xfe here,2026-11-27T14:00:00Z,https://example.com/5\n"
        b"NUL \x00 inside,2026-11-27T14:00:00Z,https://example.com/6\n"
        b"Globex slides on guidance,2026-11-27T15:00:00Z,https://example.com/7\n"
    )
    settings = kafka_settings.model_copy(update={"data_dir": tmp_path})
    summary = ingest(
        settings, capsys, "--file", str(archive), "--map", "title=headline", "--map", "published_at=date"
    )
    assert summary["ingested"] == 7
    assert summary["ingested"] == summary["produced"] + summary["deduplicated"] + summary["dlq"]
    # bad date, extra cell, no title are dead-lettered; the NUL and the stray bytes are cleaned by the
    # contract's sanitising step (removed / U+FFFD; the spaces around a removed NUL collapse) and the
    # stories kept
    assert (summary["produced"], summary["dlq"]) == (4, 3)
    letters = [decode(r.value, DeadLetter) for r in read_topic(kafka_bootstrap, kafka_topics.dlq, summary["dlq"])]
    assert all(isinstance(d, DeadLetter) and d.reason for d in letters)
    assert sorted(d.reason.split(":")[0] for d in letters) == ["published_at", "row has 4 cells, header has 3", "title"]
    titles = {RawNews.model_validate_json(r.value).title for r in read_topic(kafka_bootstrap, kafka_topics.raw, 4)}
    assert {"NUL inside", "Not UTF-8 \ufffd\ufffd here"} <= titles
