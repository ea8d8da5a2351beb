"""Dead letters: build a `DeadLetter` from a decode failure or an exception, publish it to the DLQ."""

from __future__ import annotations

import logging
import traceback

from kafka import KafkaProducer
from kafka.producer.future import RecordMetadata

from pipeline.kafka.produce import DEFAULT_WAIT_S, CheckedSends
from schemas.dlq import DeadLetter, Stage
from schemas.serde import DecodeFailure, encode

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2_000


def _key_text(key: bytes | str | None) -> str | None:
    if key is None or isinstance(key, str):
        return key
    return key.decode("utf-8", errors="backslashreplace")


def letter_from_failure(
    failure: DecodeFailure,
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | str | None,
) -> DeadLetter:
    """The dead letter of a message that did not decode into its contract (stage "decode")."""
    return DeadLetter.of(
        failure.raw,
        stage="decode",
        reason=failure.reason[:MAX_REASON_CHARS] or failure.error_type,
        error_type=failure.error_type,
        source=source_topic,
        partition=partition,
        offset=offset,
        key=_key_text(key),
    )


def letter_from_exception(
    exc: BaseException,
    payload: bytes,
    *,
    stage: Stage,
    source: str,
    news_id: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
) -> DeadLetter:
    """The dead letter of a payload whose processing raised `exc` at `stage`."""
    reason = "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__
    return DeadLetter.of(
        payload,
        stage=stage,
        reason=reason[:MAX_REASON_CHARS],
        error_type=type(exc).__name__,
        source=source,
        news_id=news_id,
        partition=partition,
        offset=offset,
        key=_key_text(key),
    )


class DeadLetterPublisher:
    """Sends dead letters to one topic; keyed by news id (else the original key) to keep order.
    The dead-letter topic is the only copy of a bad message, so `flush()` raises `ProduceError`
    unless the broker acknowledged every letter queued since the last flush."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.sent = 0
        self._sends = CheckedSends(producer)

    def publish(self, letter: DeadLetter) -> None:
        """Queue `letter` for sending; `flush()` makes it durable (or raises)."""
        key_text = letter.news_id or letter.key
        key = key_text.encode("utf-8") if key_text is not None else None
        self._sends.send(self.topic, value=encode(letter), key=key)
        self.sent += 1
        log.warning(
            "dead letter",
            extra={
                "stage": letter.stage,
                "error_type": letter.error_type,
                "source": letter.source,
                "news_id": letter.news_id,
                "partition": letter.partition,
                "offset": letter.offset,
                "reason": letter.reason[:200],
            },
        )

    def flush(self, timeout_s: float = DEFAULT_WAIT_S) -> list[RecordMetadata]:
        """Wait for every queued letter; raise `ProduceError` if any was not acknowledged."""
        return self._sends.wait(timeout_s)
