"""Malformed input on news.raw ends up on the DLQ topic with its reason and its exact bytes."""

from __future__ import annotations

import json

import pytest

from pipeline.kafka.clients import make_consumer, make_producer
from pipeline.kafka.consume import decode_records
from pipeline.kafka.dlq import DeadLetterPublisher
from schemas import DeadLetter, RawNews, decode
from tests.fixtures.kafka import KafkaTopics, consume, malformed_raw_payloads, sample_raw_news_json

pytestmark = pytest.mark.integration


def test_malformed_messages_become_dead_letters_on_the_dlq(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    cases = malformed_raw_payloads()
    cases["five-megabyte-body"] = (
        json.dumps(sample_raw_news_json(body="é" * 2_500_000), ensure_ascii=False).encode(),  # 5 MB
        "body: String should have at most 1000000 characters",
    )
    good = json.dumps(sample_raw_news_json()).encode()
    producer = make_producer(kafka_bootstrap)
    try:
        for name, (payload, _) in cases.items():
            producer.send(kafka_topics.raw, key=name.encode(), value=payload)
        producer.send(kafka_topics.raw, key=b"good", value=good)
        producer.flush(timeout=30)

        raw_consumer = make_consumer(
            kafka_bootstrap, group_id=kafka_topics.group("model"), topics=[kafka_topics.raw]
        )
        try:
            records = consume(raw_consumer, len(cases) + 1)
        finally:
            raw_consumer.close()
        decoded, letters = decode_records(records, RawNews)
        assert [d.key for d in decoded] == [b"good"]

        publisher = DeadLetterPublisher(producer, kafka_topics.dlq)
        for letter in letters:
            publisher.publish(letter)
        publisher.flush(timeout_s=30)
        assert publisher.sent == len(cases)
    finally:
        producer.close()

    dlq_consumer = make_consumer(
        kafka_bootstrap, group_id=kafka_topics.group("dlq-reader"), topics=[kafka_topics.dlq]
    )
    try:
        dlq_records = consume(dlq_consumer, len(cases))
    finally:
        dlq_consumer.close()

    by_case: dict[str, DeadLetter] = {}
    for record in dlq_records:
        letter = decode(record.value, DeadLetter)
        assert isinstance(letter, DeadLetter), letter
        assert record.key is not None
        by_case[record.key.decode()] = letter
    assert set(by_case) == set(cases)
    for name, (payload, fragment) in cases.items():
        letter = by_case[name]
        assert letter.payload == payload, name
        assert fragment in letter.reason, (name, letter.reason)
        assert letter.stage == "decode"
        assert letter.source == kafka_topics.raw
        assert letter.offset is not None and letter.partition in (0, 1)
