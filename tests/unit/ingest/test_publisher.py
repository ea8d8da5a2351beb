from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.publisher import IngestCounts, IngestMetrics, IngestPublisher
from pipeline.ingest.samples import NEWS_JSONL
from schemas import DeadLetter, RawNews, decode
from tests.unit.ingest.fakes import NOW, FakeProducer


def make(producer: FakeProducer, registry: CollectorRegistry | None = None) -> IngestPublisher:
    return IngestPublisher(
        producer,
        Deduplicator(),
        topic_raw="raw",
        topic_dlq="dlq",
        metrics=IngestMetrics(registry) if registry else None,
        clock=lambda: NOW,
    )


def test_valid_item_is_produced_keyed_by_id(producer: FakeProducer) -> None:
    pub = make(producer)
    outcome = pub.submit(b"{}", {"title": "Acme beats", "url": "https://example.com/a"}, source="t")
    assert outcome.kind == "produced"
    [(key, value)] = producer.on("raw")
    raw = decode(value, RawNews)
    assert isinstance(raw, RawNews)
    assert key == raw.id.encode() == outcome.news_id.encode()  # type: ignore[union-attr]


def test_invalid_item_goes_to_dlq_with_payload_and_reason(producer: FakeProducer) -> None:
    pub = make(producer)
    payload = b'{"body": "no title"}'
    outcome = pub.submit(payload, {"body": "no title"}, source="file.jsonl", origin="file.jsonl:7")
    assert outcome.kind == "dlq"
    [(key, value)] = producer.on("dlq")
    letter = decode(value, DeadLetter)
    assert isinstance(letter, DeadLetter)
    assert key == b""
    assert letter.payload == payload
    assert (letter.stage, letter.error_type, letter.source) == (
        "ingest",
        "InvalidItem",
        "file.jsonl (file.jsonl:7)",
    )
    assert "title" in letter.reason


def test_duplicates_are_counted_not_produced(producer: FakeProducer) -> None:
    pub = make(producer)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    pub.submit(b"1", item, source="t")
    outcome = pub.submit(b"2", item, source="t")
    assert outcome.kind == "duplicate" and outcome.verdict is not None
    assert len(producer.on("raw")) == 1
    assert pub.counts == IngestCounts(ingested=2, produced=1, deduplicated=1, dlq=0)


def test_failed_send_is_not_remembered_as_seen(producer: FakeProducer) -> None:
    pub = make(producer)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    producer.fail_next = RuntimeError("buffer full")
    with pytest.raises(RuntimeError):
        pub.submit(b"1", item, source="t")
    assert pub.submit(b"1", item, source="t").kind == "produced"
    assert pub.counts == IngestCounts(ingested=1, produced=1)


def test_sample_file_counts_reconcile_and_metrics(producer: FakeProducer) -> None:
    registry = CollectorRegistry()
    pub = make(producer, registry)
    for line in NEWS_JSONL.read_bytes().splitlines():
        pub.submit(line, json.loads(line), source="samples")
    counts = pub.counts
    assert counts.ingested == counts.produced + counts.deduplicated + counts.dlq
    assert counts == IngestCounts(ingested=62, produced=55, deduplicated=5, dlq=2)
    assert len(producer.on("raw")) == 55 and len(producer.on("dlq")) == 2
    value = registry.get_sample_value
    assert value("finsent_ingest_seen_total", {"source": "samples"}) == 62
    assert value("finsent_ingest_produced_total", {"source": "samples"}) == 55
    assert value("finsent_ingest_deduplicated_total", {"kind": "duplicate_id"}) == 3
    assert value("finsent_ingest_deduplicated_total", {"kind": "duplicate_title"}) == 2
    assert value("finsent_ingest_dlq_total", {"error_type": "InvalidItem"}) == 2


def test_log_lines_carry_the_news_id(producer: FakeProducer, caplog: pytest.LogCaptureFixture) -> None:
    pub = make(producer)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    caplog.set_level("DEBUG", logger="pipeline.ingest.publisher")
    first = pub.submit(b"1", item, source="t")
    pub.submit(b"1", item, source="t")
    records = [r for r in caplog.records if r.name == "pipeline.ingest.publisher"]
    assert records and all(getattr(r, "news_id", None) == first.news_id for r in records)
