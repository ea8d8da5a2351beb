"""Dead-letter builders and the publisher (with a fake producer)."""

from __future__ import annotations

import json

import pytest

from pipeline.kafka.dlq import DeadLetterPublisher, letter_from_exception, letter_from_failure
from pipeline.kafka.produce import ProduceError
from schemas import DeadLetter, RawNews, decode
from schemas.serde import DecodeFailure
from tests.fixtures.fake_producer import FakeProducer


def test_letter_from_failure_keeps_payload_reason_and_position() -> None:
    failure = decode(b'{"title": 1', RawNews)
    assert isinstance(failure, DecodeFailure)
    letter = letter_from_failure(failure, source_topic="news.raw", partition=0, offset=12, key=b"\xffid")
    assert letter.stage == "decode"
    assert letter.error_type == "ValidationError"
    assert "Invalid JSON" in letter.reason
    assert letter.payload == b'{"title": 1'
    assert (letter.source, letter.partition, letter.offset) == ("news.raw", 0, 12)
    assert letter.key == "\\xffid"  # undecodable key bytes stay readable


def test_letter_from_exception() -> None:
    try:
        raise RuntimeError("CUDA out of memory")
    except RuntimeError as exc:
        letter = letter_from_exception(
            exc, b"payload", stage="model", source="news.raw", news_id="abcdef0123"
        )
    assert letter.stage == "model"
    assert letter.error_type == "RuntimeError"
    assert letter.reason == "RuntimeError: CUDA out of memory"
    assert letter.news_id == "abcdef0123"
    assert letter.payload == b"payload"


def test_letter_from_exception_without_message() -> None:
    letter = letter_from_exception(ValueError(), b"", stage="store", source="postgres")
    assert letter.reason == "ValueError"


def test_publisher_keys_by_news_id_then_original_key() -> None:
    producer = FakeProducer()
    publisher = DeadLetterPublisher(producer, "news.dlq")  # type: ignore[arg-type]
    by_id = DeadLetter.of(
        b"a", stage="model", reason="r", error_type="E", source="s", news_id="id123456", key="k"
    )
    by_key = DeadLetter.of(b"b", stage="decode", reason="r", error_type="E", source="s", key="k")
    keyless = DeadLetter.of(b"c", stage="decode", reason="r", error_type="E", source="s")
    for letter in (by_id, by_key, keyless):
        publisher.publish(letter)
    publisher.flush()
    assert [(t, k) for t, k, _ in producer.sent] == [
        ("news.dlq", b"id123456"),
        ("news.dlq", b"k"),
        ("news.dlq", None),
    ]
    assert DeadLetter.model_validate(json.loads(producer.sent[0][2])) == by_id
    assert publisher.sent == 3 and producer.flushed == 1


def test_publisher_flush_raises_when_a_letter_is_not_acknowledged() -> None:
    publisher = DeadLetterPublisher(FakeProducer(fail_topics={"news.dlq"}), "news.dlq")  # type: ignore[arg-type]
    publisher.publish(DeadLetter.of(b"x", stage="decode", reason="r", error_type="E", source="s"))
    with pytest.raises(ProduceError, match="1 of 1 records not acknowledged"):
        publisher.flush()
