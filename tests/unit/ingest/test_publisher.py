"""The batch publisher with a checked-send producer stand-in (the durable store: test_seen_store)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.publisher import IngestCounts, IngestMetrics, IngestPublisher
from pipeline.ingest.samples import NEWS_JSONL
from pipeline.ingest.sources.records import SourceRecord, parse_json_line
from pipeline.kafka.produce import ProduceError
from schemas import DeadLetter, RawNews, decode
from tests.fixtures import sample_counts as sample
from tests.unit.ingest.fakes import NOW, FakeProducer, on


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
    [(key, value)] = on(producer, "raw")
    raw = decode(value, RawNews)
    assert isinstance(raw, RawNews)
    assert key == raw.id.encode() == outcome.news_id.encode()  # type: ignore[union-attr]


def test_invalid_item_goes_to_dlq_with_payload_and_reason(producer: FakeProducer) -> None:
    pub = make(producer)
    payload = b'{"body": "no title"}'
    outcome = pub.submit(payload, {"body": "no title"}, source="file.jsonl", origin="file.jsonl:7")
    assert outcome.kind == "dlq" and outcome.field == "title"
    [(key, value)] = on(producer, "dlq")
    letter = decode(value, DeadLetter)
    assert isinstance(letter, DeadLetter)
    assert key == b""
    assert letter.payload == payload
    assert (letter.stage, letter.error_type, letter.source) == (
        "ingest",
        "InvalidItem",
        "file.jsonl (file.jsonl:7)",
    )
    assert letter.reason == "title: missing or empty title"


def test_rejected_items_are_not_dead_lettered(producer: FakeProducer) -> None:
    pub = make(producer)
    records = [
        SourceRecord(b"", {"title": "Acme beats", "url": "https://example.com/a"}, "push[0]"),
        SourceRecord(b"", {"title": "x", "published_at": "soon"}, "push[1]"),
        SourceRecord(b"", None, "push[2]", "expected a JSON object, got number", "InvalidItem"),
    ]
    outcomes = pub.publish_records(records, source="http-push", invalid="reject")
    assert [o.kind for o in outcomes] == ["produced", "rejected", "rejected"]
    assert outcomes[1].field == "published_at" and "unreadable time" in (outcomes[1].reason or "")
    assert on(producer, "dlq") == [] and len(on(producer, "raw")) == 1
    assert pub.counts == IngestCounts(ingested=3, produced=1, rejected=2)


def test_duplicates_are_counted_not_produced(producer: FakeProducer) -> None:
    pub = make(producer)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    pub.submit(b"1", item, source="t")
    outcome = pub.submit(b"2", item, source="t")
    assert outcome.kind == "duplicate" and outcome.verdict is not None
    assert len(on(producer, "raw")) == 1
    assert pub.counts == IngestCounts(ingested=2, produced=1, deduplicated=1, dlq=0)


def test_repeats_inside_one_batch_are_duplicates(producer: FakeProducer) -> None:
    pub = make(producer)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    outcomes = pub.publish_records([SourceRecord(b"", item, "a"), SourceRecord(b"", item, "b")], source="t")
    assert [o.kind for o in outcomes] == ["produced", "duplicate"]


def test_unacknowledged_batch_raises_and_is_not_remembered() -> None:
    failing = FakeProducer(fail_topics={"raw"})
    pub = make(failing)
    item = {"title": "Acme beats", "url": "https://example.com/a"}
    with pytest.raises(ProduceError):
        pub.submit(b"1", item, source="t")
    assert pub.counts == IngestCounts()  # nothing counted: the batch can be retried whole
    assert not pub.broker_ok()
    pub.producer = FakeProducer()
    assert pub.submit(b"1", item, source="t").kind == "produced"  # the retry is not a "duplicate"
    assert pub.counts == IngestCounts(ingested=1, produced=1)


def test_a_failing_dead_letter_fails_the_batch() -> None:
    pub = make(FakeProducer(fail_topics={"dlq"}))
    with pytest.raises(ProduceError):
        pub.submit(b"{}", {"body": "no title"}, source="t")


def test_normaliser_bug_is_dead_lettered_not_raised(
    producer: FakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.ingest.publisher as module

    def broken(*_: object, **__: object) -> RawNews:
        raise KeyError("boom")

    monkeypatch.setattr(module, "normalize", broken)
    outcome = make(producer).submit(b"x", {"title": "t"}, source="t")
    assert outcome.kind == "dlq" and "could not normalise" in (outcome.reason or "")
    letter = decode(on(producer, "dlq")[0][1], DeadLetter)
    assert isinstance(letter, DeadLetter) and letter.error_type == "KeyError"


def test_huge_payload_is_truncated_in_the_dead_letter(producer: FakeProducer) -> None:
    from pipeline.ingest.publisher import MAX_DLQ_PAYLOAD_BYTES

    record = SourceRecord(b"x" * (MAX_DLQ_PAYLOAD_BYTES + 10), None, "big:1", "invalid JSON", "InvalidJson")
    make(producer).publish_records([record], source="big")
    letter = decode(on(producer, "dlq")[0][1], DeadLetter)
    assert isinstance(letter, DeadLetter)
    assert len(letter.payload) == MAX_DLQ_PAYLOAD_BYTES and "truncated" in letter.reason


def test_sample_file_counts_reconcile_and_metrics(producer: FakeProducer) -> None:
    registry = CollectorRegistry()
    pub = make(producer, registry)
    records = [parse_json_line(line, f"news.jsonl:{n}") for n, line in enumerate(NEWS_JSONL.read_bytes().splitlines())]
    outcomes = pub.publish_records(records, source="samples")
    counts = pub.counts
    assert len(outcomes) == counts.ingested == counts.produced + counts.deduplicated + counts.dlq
    assert counts == IngestCounts(**{k: v for k, v in sample.COUNTS.items() if k != "rejected"})
    assert len(on(producer, "raw")) == sample.PRODUCED and len(on(producer, "dlq")) == sample.DLQ
    value = registry.get_sample_value
    assert value("finsent_ingest_seen_total", {"source": "samples"}) == sample.INGESTED
    assert value("finsent_ingest_produced_total", {"source": "samples"}) == sample.PRODUCED
    assert value("finsent_ingest_deduplicated_total", {"kind": "duplicate_id"}) == sample.DUPLICATE_IDS
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


def test_the_sample_file_has_the_lines_the_tests_count() -> None:
    assert len(NEWS_JSONL.read_bytes().splitlines()) == sample.INGESTED
