"""The first Kafka offset at or after a timestamp, right even where the broker answers wrong.

`offsets_for_times` asks the broker (ListOffsets by timestamp); the answer is then verified by
reading the record at that offset and the one before it. Tansu answers with broker append time
(see /work/shared/KAFKA.md), so the check fails there and we fall back to a binary search over
`[beginning, high watermark)` by record timestamp: ~log2(n) single-record fetches.

The search assumes record timestamps are non-decreasing within a partition (producers stamp
create time; ours send in order). `first_offset_at` is pure and unit-tested over a callable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from pipeline.kafka.clients import topic_end_offsets

log = logging.getLogger(__name__)

TimestampAt = Callable[[int], int]
"""Record timestamp (ms) of the record at an offset in the searched range."""


def first_offset_at(timestamp_at: TimestampAt, low: int, high: int, target_ms: int) -> int:
    """The first offset in `[low, high)` whose timestamp is >= `target_ms`, else `high`.

    Needs non-decreasing timestamps over the range; calls `timestamp_at` ~log2(high - low) times.
    """
    while low < high:
        mid = (low + high) // 2
        if timestamp_at(mid) < target_ms:
            low = mid + 1
        else:
            high = mid
    return low


def answer_is_right(timestamp_at: TimestampAt, offset: int, low: int, target_ms: int) -> bool:
    """Whether `offset` is the first one at `target_ms`: its record is at or after the target
    and the record before it (if any) is before the target."""
    if timestamp_at(offset) < target_ms:
        return False
    return offset <= low or timestamp_at(offset - 1) < target_ms


@dataclass(frozen=True, slots=True)
class StartOffset:
    partition: int
    offset: int
    verified_broker_answer: bool
    """True when the broker's `offsets_for_times` answer passed the check (no search needed)."""
    probes: int


class RecordProbe:
    """Reads single records by offset with a group-less consumer (one partition at a time)."""

    def __init__(self, consumer: KafkaConsumer, tp: TopicPartition, *, timeout_s: float = 10.0) -> None:
        self._consumer = consumer
        self._tp = tp
        self._timeout_s = timeout_s
        self._cache: dict[int, int] = {}
        self.fetches = 0

    def __call__(self, offset: int) -> int:
        if offset in self._cache:
            return self._cache[offset]
        self._consumer.seek(self._tp, offset)
        deadline = time.monotonic() + self._timeout_s
        while True:
            polled = self._consumer.poll(timeout_ms=200, max_records=1, update_offsets=False)
            records = polled.get(self._tp, [])
            if records:
                self.fetches += 1
                record = records[0]
                # a compacted or transactional log may skip offsets: the next record stands in
                self._cache[offset] = record.timestamp
                self._cache[record.offset] = record.timestamp
                return int(record.timestamp)
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"no record at {self._tp.topic}[{self._tp.partition}]@{offset}")


def offsets_for_time(
    consumer: KafkaConsumer, bootstrap: str, topic: str, ts_ms: int
) -> dict[int, StartOffset]:
    """Per partition of `topic`, the first offset whose record timestamp is >= `ts_ms`.

    `consumer` must be group-less (it is assigned the partitions and seeked around).
    The end of each partition is the high watermark (`topic_end_offsets`), right on Tansu.
    """
    ends = topic_end_offsets(bootstrap, topic, consumer=consumer)
    tps = [TopicPartition(topic, p) for p in sorted(ends)]
    consumer.assign(tps)
    begins = consumer.beginning_offsets(tps)
    try:
        answers = consumer.offsets_for_times({tp: ts_ms for tp in tps})
    except Exception as exc:  # noqa: BLE001 - an unsupported request is just a wrong answer
        log.warning("offsets_for_times failed (%s); searching by record timestamp", exc)
        answers = {}
    out: dict[int, StartOffset] = {}
    for tp in tps:
        low, high = int(begins[tp]), int(ends[tp.partition])
        probe = RecordProbe(consumer, tp)
        answer = answers.get(tp)
        if low >= high:
            out[tp.partition] = StartOffset(tp.partition, high, True, 0)
            continue
        if answer is not None and low <= answer.offset < high and answer_is_right(probe, answer.offset, low, ts_ms):
            out[tp.partition] = StartOffset(tp.partition, answer.offset, True, probe.fetches)
            continue
        if answer is None and probe(high - 1) < ts_ms:
            out[tp.partition] = StartOffset(tp.partition, high, True, probe.fetches)  # nothing that late
            continue
        found = first_offset_at(probe, low, high, ts_ms)
        log.info(
            "broker's offsets_for_times answer was wrong; binary search found the start",
            extra={"topic": topic, "partition": tp.partition, "broker": getattr(answer, "offset", None),
                   "offset": found, "fetches": probe.fetches},
        )
        out[tp.partition] = StartOffset(tp.partition, found, False, probe.fetches)
    return out
