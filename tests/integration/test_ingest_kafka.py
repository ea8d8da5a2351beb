"""`finsent ingest --file samples/news.jsonl` through the command handler into a real broker."""

from __future__ import annotations

import argparse
import json

import pytest
from kafka import TopicPartition

from pipeline.config import Settings
from pipeline.ingest.samples import NEWS_JSONL
from pipeline.kafka.clients import make_consumer
from schemas import DeadLetter, RawNews, decode
from tests.fixtures.kafka import TEST_PARTITIONS, KafkaTopics, consume
from workers.commands import ingest as ingest_command

pytestmark = pytest.mark.integration


def read_all(bootstrap: str, topic: str, count: int) -> list[object]:
    consumer = make_consumer(bootstrap, group_id=None)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(TEST_PARTITIONS)])
        records = consume(consumer, count, timeout_s=30)
        extra = consumer.poll(timeout_ms=1_000)  # nothing more than expected
        return records + [r for batch in extra.values() for r in batch]
    finally:
        consumer.close()


def test_ingest_file_into_kafka(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    kafka_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="finsent")
    ingest_command.register(parser.add_subparsers())
    args = parser.parse_args(["ingest", "--file", str(NEWS_JSONL)])
    assert args.handler(args, kafka_settings) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"ingested": 62, "produced": 55, "deduplicated": 5, "dlq": 2}

    raw = read_all(kafka_bootstrap, kafka_topics.raw, summary["produced"])
    dlq = read_all(kafka_bootstrap, kafka_topics.dlq, summary["dlq"])
    assert len(raw) == summary["produced"] and len(dlq) == summary["dlq"]
    assert summary["ingested"] == len(raw) + summary["deduplicated"] + len(dlq)

    news = [decode(r.value, RawNews) for r in raw]  # type: ignore[attr-defined]
    assert all(isinstance(n, RawNews) for n in news)
    assert {r.key for r in raw} == {n.id.encode() for n in news}  # type: ignore[attr-defined,union-attr]
    assert len({n.id for n in news}) == len(news)  # type: ignore[union-attr]

    letters = [decode(r.value, DeadLetter) for r in dlq]  # type: ignore[attr-defined]
    assert all(isinstance(d, DeadLetter) and d.stage == "ingest" for d in letters)
    reasons = sorted(d.reason for d in letters)  # type: ignore[union-attr]
    assert "published_at" in reasons[0] and "title" in reasons[1]
    assert all(json.loads(d.payload) for d in letters)  # type: ignore[union-attr]
