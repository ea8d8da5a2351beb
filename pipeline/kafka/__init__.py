"""Kafka I/O: the embedded broker, client factories, contracts at the edge, the dead-letter queue."""

from pipeline.kafka.broker import BrokerError, EmbeddedBroker, broker_for, tansu_binary
from pipeline.kafka.clients import (
    MAX_MESSAGE_BYTES,
    consumer_lag,
    ensure_topics,
    faust_settings,
    make_consumer,
    make_producer,
    topic_end_offsets,
)
from pipeline.kafka.consume import Decoded, decode_records
from pipeline.kafka.dlq import DeadLetterPublisher, letter_from_exception, letter_from_failure

__all__ = [
    "MAX_MESSAGE_BYTES",
    "BrokerError",
    "DeadLetterPublisher",
    "Decoded",
    "EmbeddedBroker",
    "broker_for",
    "consumer_lag",
    "decode_records",
    "ensure_topics",
    "faust_settings",
    "letter_from_exception",
    "letter_from_failure",
    "make_consumer",
    "make_producer",
    "tansu_binary",
    "topic_end_offsets",
]
