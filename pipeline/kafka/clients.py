"""Kafka clients with the settings measured to work on Tansu and Apache Kafka (kafka-python 3.0.12).

- Producer: acks=all, lz4, a few ms of linger, retries; no idempotence (`enable_idempotence` is
  kafka-python 3's default, so it is turned off explicitly): after a restart of the embedded broker
  the idempotent producer's InitProducerId fails and leaves it broken for good ("fatal error"), and
  the sinks are idempotent anyway (a retried record is a harmless duplicate).
- Consumer: manual commits (write, then commit), earliest reset, a short group session timeout:
  Tansu holds JoinGroup for half the session timeout, so 6 s means a ~3 s join.
- End offsets: Tansu answers ListOffsets(latest) with the first offset of the last batch + 1, so
  `KafkaConsumer.end_offsets` is wrong whenever that batch holds more than one record.
  `topic_end_offsets` reads the high watermark of a fetch response instead, which is right.

Every factory takes `security` (`pipeline.kafka.security.KafkaSecurity.from_settings(settings)`):
the protocol and SASL login every client of a process uses; PLAINTEXT when left out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError, for_code

from pipeline.kafka.security import PLAINTEXT, KafkaSecurity

_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest record we produce: big enough that an oversized news body still reaches the DLQ."""

PRODUCER_DEFAULTS: Mapping[str, Any] = {
    "acks": "all",
    "enable_idempotence": False,
    "compression_type": "lz4",
    "linger_ms": 5,
    "retries": 5,
    "max_request_size": MAX_MESSAGE_BYTES,
    "request_timeout_ms": 30_000,
    "delivery_timeout_ms": 60_000,
}

CONSUMER_DEFAULTS: Mapping[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 6_000,
    "heartbeat_interval_ms": 2_000,
    "max_poll_records": 500,
    # Tansu holds a fetch for its whole wait even when records arrive meanwhile (bench/tansu_fetch_wait.py):
    # kafka-python's 500 ms default then adds up to 500 ms to every record's latency. On Apache Kafka a
    # fetch returns as soon as data is there, so a short wait only means a few more idle fetches.
    "fetch_max_wait_ms": 100,
    "max_poll_interval_ms": 300_000,
    "fetch_max_bytes": 64 * 1024 * 1024,
    "max_partition_fetch_bytes": 2 * MAX_MESSAGE_BYTES,
    "receive_message_max_bytes": 128 * 1024 * 1024,
}


def make_producer(
    bootstrap: str, *, client_id: str = "finsent", security: KafkaSecurity = PLAINTEXT, **overrides: Any
) -> KafkaProducer:
    """A producer of raw bytes (keys and values); `overrides` replace any default."""
    config = {**PRODUCER_DEFAULTS, **security.client_config(), **overrides}
    return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, **config)


def make_consumer(
    bootstrap: str,
    *,
    group_id: str | None,
    topics: Iterable[str] = (),
    client_id: str = "finsent",
    security: KafkaSecurity = PLAINTEXT,
    **overrides: Any,
) -> KafkaConsumer:
    """A consumer of raw bytes in `group_id` (None: no group, assign partitions yourself).

    Offsets are committed by the caller after its writes (`consumer.commit(...)`), never
    automatically. `topics`, when given, are subscribed to.
    """
    config = {**CONSUMER_DEFAULTS, **security.client_config(), **overrides}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id, **config)
    names = list(topics)
    if names:
        consumer.subscribe(names)
    return consumer


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    *,
    partitions: int,
    replication: int = 1,
    timeout_s: float = 15.0,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the topics that do not exist yet; return once metadata shows all of them with leaders."""
    wanted = list(dict.fromkeys(names))
    # Tansu accepts what Apache Kafka refuses (0 partitions, "bad name!", ""): check here instead
    if partitions < 1:
        raise ValueError(f"a topic needs at least one partition, not {partitions}")
    illegal = [name for name in wanted if not _LEGAL_TOPIC.fullmatch(name)]
    if illegal:
        raise ValueError(f"illegal topic names {illegal}: use 1-249 of [a-zA-Z0-9._-]")
    if not wanted:
        return
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="finsent-admin",
        bootstrap_timeout_ms=int(timeout_s * 1000),
        **security.client_config(),
    )
    try:
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        if missing:
            spec = {
                name: {"num_partitions": partitions, "replication_factor": replication} for name in missing
            }
            result = admin.create_topics(spec, timeout_ms=int(timeout_s * 1000), raise_errors=False)
            failed = {
                t["name"]: f"{for_code(t['error_code']).__name__}: {t.get('error_message') or ''}".strip()
                for t in result.get("topics", [])
                # TopicAlreadyExists: a concurrent creator won the race, which is fine
                if t.get("error_code") not in (0, TopicAlreadyExistsError.errno)
            }
            if failed:
                raise KafkaError(f"could not create topics on {bootstrap}: {failed}")
        admin.wait_for_topics(wanted, timeout_ms=int(timeout_s * 1000))
    finally:
        admin.close()


def topic_end_offsets(
    bootstrap: str,
    topic: str,
    *,
    timeout_s: float = 10.0,
    consumer: KafkaConsumer | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[int, int]:
    """The end offset (high watermark) of every partition of `topic`, right on Tansu too.

    Seeks each partition to `end_offsets()` (at most the true end on Tansu) and fetches once: the
    fetch response carries the true high watermark. Pass `consumer` to borrow a connection; a
    group-less one is made (and closed) otherwise.
    """
    own = consumer is None
    probe = (
        consumer
        if consumer is not None
        else make_consumer(bootstrap, group_id=None, client_id="finsent-offsets", security=security)
    )
    try:
        return _high_watermarks(probe, topic, timeout_s)
    finally:
        if own:
            probe.close()


def _high_watermarks(probe: KafkaConsumer, topic: str, timeout_s: float) -> dict[int, int]:
    deadline = time.monotonic() + timeout_s
    partitions = probe.partitions_for_topic(topic)
    while not partitions:
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"topic {topic!r} has no partitions in metadata after {timeout_s}s")
        time.sleep(0.1)
        partitions = probe.partitions_for_topic(topic)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    probe.assign(tps)
    for tp, offset in probe.end_offsets(tps).items():
        probe.seek(tp, max(offset - 1, 0))  # inside the last batch: one small fetch with the watermark
    marks: dict[int, int] = {}
    while len(marks) < len(tps):
        probe.poll(timeout_ms=200, max_records=1, update_offsets=False)
        for tp in tps:
            mark = probe.highwater(tp)
            if mark is not None:
                marks[tp.partition] = mark
        if time.monotonic() > deadline:
            missing = sorted({tp.partition for tp in tps} - set(marks))
            raise KafkaTimeoutError(
                f"no fetch response for {topic!r} partitions {missing} within {timeout_s}s"
            )
    return marks


def committed_offsets(
    bootstrap: str, group: str, topic: str, *, security: KafkaSecurity = PLAINTEXT
) -> dict[int, int]:
    """The offsets `group` has committed on `topic`, by partition (partitions without one are left out)."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="finsent-admin", **security.client_config()
    )
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
    }


def consumer_lag(consumer: KafkaConsumer) -> dict[TopicPartition, int]:
    """Records behind the high watermark per assigned partition, from the consumer's last fetches.

    No network round trip: partitions not fetched yet (no watermark, no position) are left out.
    """
    lag: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        mark = consumer.highwater(tp)
        if mark is None:
            continue
        try:
            position = consumer.position(tp, timeout_ms=0)
        except KafkaTimeoutError:
            continue
        if position is not None:
            lag[tp] = max(mark - position, 0)
    return lag


def faust_settings(
    bootstrap: str, *, partitions: int, web_port: int = 0, security: KafkaSecurity = PLAINTEXT
) -> dict[str, Any]:
    """Keyword settings for `faust.App(...)` (faust-streaming 0.15.3) that work on Tansu and Kafka.

    At-least-once only: exactly-once dies on Tansu (producer ids). Faust binds a web port even
    with the web server disabled, so pass a free `web_port` when several apps share a host.
    Do not rely on faust table recovery over Tansu: it reads the changelog only up to the wrong
    end offset (see module docstring), so counts are lost after a restart or rebalance.
    """
    return {
        "broker": ";".join(f"kafka://{host}" for host in bootstrap.split(",")),
        "broker_credentials": security.faust_credentials(),
        "processing_guarantee": "at_least_once",
        "broker_session_timeout": CONSUMER_DEFAULTS["session_timeout_ms"] / 1000,
        "broker_heartbeat_interval": CONSUMER_DEFAULTS["heartbeat_interval_ms"] / 1000,
        "consumer_auto_offset_reset": "earliest",
        "consumer_max_fetch_size": CONSUMER_DEFAULTS["max_partition_fetch_bytes"],
        "producer_acks": -1,
        "producer_compression_type": PRODUCER_DEFAULTS["compression_type"],
        "producer_linger_ms": PRODUCER_DEFAULTS["linger_ms"],
        "producer_max_request_size": MAX_MESSAGE_BYTES,
        "topic_partitions": partitions,
        "topic_replication_factor": 1,
        "web_enabled": False,
        "web_port": web_port,
    }
