"""The replay's own consumer group on the shared replay topic: its name, its start at the
topic's high watermark, and a consumer view that hands out only this run's records (marked with
the `finsent-replay: <run-id>` header)."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline.kafka.security import PLAINTEXT, KafkaSecurity

RUN_HEADER = "finsent-replay"


def replay_group(run_id: str) -> str:
    return f"finsent-replay-{run_id}"


class RunRecords:
    """A consumer whose `poll` hands out only this run's records (the replay topic is shared)."""

    def __init__(self, consumer: KafkaConsumer, run_id: str) -> None:
        self._consumer = consumer
        self._run = run_id.encode()

    def poll(self, timeout_ms: int = 0, max_records: int | None = None, update_offsets: bool = True) -> Any:
        polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records, update_offsets=update_offsets)
        mine = {tp: [r for r in records if self._is_mine(r)] for tp, records in polled.items()}
        return {tp: records for tp, records in mine.items() if records}

    def _is_mine(self, record: Any) -> bool:
        return any(k == RUN_HEADER and v == self._run for k, v in (record.headers or ()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def start_group_at_end(
    bootstrap: str, topic: str, group: str, *, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Commit the replay topic's high watermarks for `group` where it has no offset yet, so a new
    run's group skips what earlier runs left in the shared topic (`latest` is wrong on Tansu)."""
    from pipeline.kafka.clients import make_consumer, topic_end_offsets

    ends = topic_end_offsets(bootstrap, topic, security=security)
    consumer = make_consumer(bootstrap, group_id=group, security=security)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        missing = {tp: OffsetAndMetadata(ends[tp.partition], "", -1) for tp in tps if consumer.committed(tp) is None}
        if missing:
            consumer.commit(missing)
    finally:
        consumer.close(autocommit=False)
