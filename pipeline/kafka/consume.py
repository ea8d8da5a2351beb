"""Contracts at the edge: Kafka records in, typed messages or dead letters out (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from pipeline.kafka.dlq import letter_from_failure
from schemas.dlq import DeadLetter
from schemas.serde import DecodeFailure, decode

M = TypeVar("M", bound=BaseModel)


class RecordLike(Protocol):
    """What `decode_records` reads of a record (kafka-python's `ConsumerRecord` has it all)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Decoded(Generic[M]):
    """A decoded message and where it came from (to commit `offset + 1` once it is written)."""

    value: M
    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


def decode_records(
    records: Iterable[RecordLike], model: type[M]
) -> tuple[list[Decoded[M]], list[DeadLetter]]:
    """Decode each record as `model`; the ones that do not decode become dead letters (in order)."""
    decoded: list[Decoded[M]] = []
    letters: list[DeadLetter] = []
    for record in records:
        result = decode(record.value, model)
        if isinstance(result, DecodeFailure):
            letters.append(
                letter_from_failure(
                    result,
                    source_topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                )
            )
        else:
            decoded.append(
                Decoded(
                    value=result,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    timestamp_ms=record.timestamp,
                )
            )
    return decoded, letters
