"""Group semantics the model worker relies on, and the Tansu end-offset workaround."""

from __future__ import annotations

import pytest
from kafka import OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from pipeline.kafka.clients import consumer_lag, make_consumer, make_producer, topic_end_offsets
from tests.fixtures.kafka import KafkaTopics, consume
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.integration


def test_manual_commit_survives_a_consumer_restart(kafka_bootstrap: str, kafka_topics: KafkaTopics) -> None:
    topic, group = kafka_topics.raw, kafka_topics.group("model")
    producer = make_producer(kafka_bootstrap)
    for i in range(20):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush(timeout=10)
    producer.close()

    first = make_consumer(kafka_bootstrap, group_id=group, topics=[topic], max_poll_records=5)
    try:
        processed = consume(first, 1)
        processed += [r for batch in first.poll(timeout_ms=500).values() for r in batch]
        processed = processed[:7]
        # Records come in offset order per partition, so `processed` is a prefix of each partition:
        # commit exactly what was "written", per partition the last offset + 1.
        commit = {
            TopicPartition(r.topic, r.partition): OffsetAndMetadata(r.offset + 1, "", -1) for r in processed
        }
        first.commit(commit)
    finally:
        first.close()

    second = make_consumer(kafka_bootstrap, group_id=group, topics=[topic])
    try:
        rest = consume(second, 20 - len(processed))
        for tp, meta in commit.items():
            assert second.committed(tp) == meta.offset
    finally:
        second.close()
    seen_first = {r.value for r in processed}
    seen_second = {r.value for r in rest}
    assert seen_first.isdisjoint(seen_second)
    assert seen_first | seen_second == {f"v{i}".encode() for i in range(20)}


def test_topic_end_offsets_reads_the_high_watermark(kafka_bootstrap: str, kafka_topics: KafkaTopics) -> None:
    topic = kafka_topics.replay
    producer = make_producer(kafka_bootstrap, linger_ms=200)  # many records per batch
    for _ in range(30):
        producer.send(topic, value=b"x", partition=0)
    producer.flush(timeout=10)
    producer.close()

    assert topic_end_offsets(kafka_bootstrap, topic) == {0: 30, 1: 0}

    consumer = make_consumer(kafka_bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        got: list[ConsumerRecord] = []

        def ten_read() -> bool:  # never asks for more than the records still missing
            polled = consumer.poll(timeout_ms=500, max_records=10 - len(got))
            got.extend(record for batch in polled.values() for record in batch)
            return len(got) >= 10

        wait_until(ten_read, "10 records read")
        assert len(got) == 10 and {r.partition for r in got} == {0}
        assert consumer_lag(consumer).get(tps[0]) == 20
    finally:
        consumer.close()


def test_ensure_topics_is_idempotent(kafka_bootstrap: str, kafka_topics: KafkaTopics) -> None:
    from kafka import KafkaAdminClient

    from pipeline.kafka.clients import ensure_topics

    extra = kafka_topics.group("extra-topic")
    ensure_topics(kafka_bootstrap, [kafka_topics.raw, extra, extra], partitions=3)
    ensure_topics(kafka_bootstrap, [kafka_topics.raw, extra], partitions=3)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {
            t["name"]: len(t["partitions"]) for t in admin.describe_topics([kafka_topics.raw, extra])
        }
    finally:
        admin.close()
    assert described == {kafka_topics.raw: 2, extra: 3}  # an existing topic is left as it is
