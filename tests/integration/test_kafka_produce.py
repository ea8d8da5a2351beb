"""`CheckedSends` against a real broker: acknowledged records are readable; an unreachable one fails."""

from __future__ import annotations

import pytest

from pipeline.kafka.broker import EmbeddedBroker
from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer
from pipeline.kafka.produce import CheckedSends, ProduceError
from tests.fixtures.kafka import KafkaTopics, consume

pytestmark = pytest.mark.integration


def test_acknowledged_records_are_on_the_topic(kafka_bootstrap: str, kafka_topics: KafkaTopics) -> None:
    producer = make_producer(kafka_bootstrap)
    try:
        sends = CheckedSends(producer)
        for i in range(5):
            sends.send(kafka_topics.enriched, value=b"v%d" % i, key=b"k")
        acked = sends.wait(timeout_s=30)
    finally:
        producer.close()
    assert len(acked) == 5 and {m.topic for m in acked} == {kafka_topics.enriched}
    consumer = make_consumer(kafka_bootstrap, group_id=kafka_topics.group("r"), topics=[kafka_topics.enriched])
    try:
        values = sorted(r.value for r in consume(consumer, 5))
    finally:
        consumer.close()
    assert values == [b"v%d" % i for i in range(5)]


def test_sends_after_the_broker_stopped_fail_the_batch() -> None:
    """A broker of its own, stopped after the producer connected: flush() alone would not raise."""
    with EmbeddedBroker() as broker:
        producer = make_producer(
            broker.bootstrap, max_block_ms=1_000, request_timeout_ms=1_000, delivery_timeout_ms=2_000
        )
        ensure_topics(broker.bootstrap, ["gone"], partitions=1)
        broker.stop()
    try:
        sends = CheckedSends(producer)
        sends.send("gone", value=b"never")
        with pytest.raises(ProduceError, match="1 of 1 records not acknowledged"):
            sends.wait(timeout_s=10)
    finally:
        producer.close(timeout=1)
