"""Every message contract survives a trip through a real topic and a consumer group."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from pipeline.kafka.clients import make_consumer, make_producer
from pipeline.kafka.consume import decode_records
from schemas import (
    AlertEvent,
    AlertWindow,
    DeadLetter,
    EnrichedNews,
    EntityMention,
    RawNews,
    SentimentProbs,
    encode,
)
from tests.fixtures.kafka import KafkaTopics, consume, sample_raw_news_json

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _raw() -> RawNews:
    return RawNews.model_validate(sample_raw_news_json(body="Zürich — Ümlaut & emoji 📈 survive"))


def _enriched() -> EnrichedNews:
    return EnrichedNews(
        news_id="0123456789abcdef0123456789abcdef",
        model_version="minilm-3head@test",
        published_at=T0,
        topic="earnings",
        topic_score=0.91,
        sentiment="positive",
        sentiment_probs=SentimentProbs(negative=0.05, neutral=0.15, positive=0.8),
        sentiment_score=0.75,
        entities=(
            EntityMention(text="Acme Corp", label="ORG", start=0, end=9, confidence=0.97, ticker="ACME"),
        ),
        processed_at=T0,
    )


def _alert() -> AlertEvent:
    return AlertEvent(
        fingerprint="f00dfeedcafe1234",
        rule="negative-spike",
        topic="earnings",
        status="firing",
        window=AlertWindow(start=T0, end=T0.replace(hour=4)),
        figures={"z": 3.2, "count": 17.0},
        labels={"ticker": "ACME"},
        started_at=T0,
        emitted_at=T0,
    )


def _dead_letter() -> DeadLetter:
    return DeadLetter.of(
        b"\x00\xff not json",
        stage="decode",
        reason="payload is not valid UTF-8",
        error_type="InvalidUtf8",
        source="news.raw",
        partition=1,
        offset=42,
        key="k1",
        failed_at=T0,
    )


CONTRACTS = {"RawNews": _raw, "EnrichedNews": _enriched, "AlertEvent": _alert, "DeadLetter": _dead_letter}


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_contract_round_trips_through_a_topic(
    name: str, kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    sent = [CONTRACTS[name](), CONTRACTS[name]()]
    model: type[BaseModel] = type(sent[0])
    producer = make_producer(kafka_bootstrap)
    try:
        for i, message in enumerate(sent):
            producer.send(kafka_topics.raw, key=f"key-{i}".encode(), value=encode(message)).get(timeout=10)
    finally:
        producer.close()

    consumer = make_consumer(
        kafka_bootstrap, group_id=kafka_topics.group("contracts"), topics=[kafka_topics.raw]
    )
    try:
        records = consume(consumer, len(sent))
    finally:
        consumer.close()

    decoded, letters = decode_records(records, model)
    assert letters == []
    assert [d.value for d in decoded] == sent
    assert {d.key for d in decoded} == {b"key-0", b"key-1"}
    assert all(d.topic == kafka_topics.raw for d in decoded)
