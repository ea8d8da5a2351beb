"""The replay process: source -> (Kafka replay topic + model-worker logic | in process) -> store.

`run_replay(plan, ...)` reads a `ReplaySource` in chunks and sends each chunk down one of two
paths, both ending in `pipeline.enrichment.process_batch` and the idempotent store:

- `via="kafka"` (a broker is configured): the chunk is produced to `settings.topic_replay`
  (keyed by news id, original `published_at`, header `finsent-replay: <run-id>`), then consumed by
  a `ModelWorker` in the run's own group `finsent-replay-<run-id>`; its enrichments go to
  `<replay topic>.enriched` and dead letters to `<replay topic>.dlq`. The live group
  (`settings.model_group`) and the live topics are never touched. The group starts at the replay
  topic's high watermark when first created; records of other runs are skipped.
- `via="process"` (the embedded default): `process_batch` is called directly, batch by batch;
  dead letters go to `<data_dir>/replay/<run-id>.dlq.jsonl`.

Items already enriched under the target model version are counted `deduplicated` without being
scored again (so a second run is cheap and changes nothing). After every stored chunk the source
position and counts are checkpointed (`pipeline.replay.checkpoint`); when `stop` is set the
current batch finishes, the checkpoint is written and the summary comes back `interrupted`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.db.writer import existing_enrichment_ids, store_batch
from pipeline.enrichment import BatchItem, PredictorLike, process_batch
from pipeline.kafka.produce import CheckedSends
from pipeline.replay.checkpoint import COUNT_NAMES, Checkpoint, CheckpointFile
from pipeline.replay.rate import TokenBucket
from pipeline.replay.sources import Position, ReplaySource, SourceItem
from schemas import DeadLetter, encode
from workers.model_worker import ModelWorker, ModelWorkerConfig

log = logging.getLogger(__name__)

RUN_HEADER = "finsent-replay"
Via = Literal["kafka", "process"]


@dataclass(frozen=True)
class ReplayPlan:
    source: ReplaySource
    run_id: str
    arguments: dict[str, Any]
    via: Via = "process"
    batch_size: int = 64
    chunk_batches: int = 8
    """Kafka path: batches produced before waiting for the worker to store them."""
    rate: float | None = None
    restart: bool = False


@dataclass
class ReplaySummary:
    run_id: str
    model_version: str
    via: Via
    read: int = 0
    enriched: int = 0
    deduplicated: int = 0
    dlq: int = 0
    seconds: float = 0.0
    resumed_from: Position | None = None
    interrupted: bool = False
    checkpoint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "enriched": self.enriched,
            "deduplicated": self.deduplicated,
            "dlq": self.dlq,
            "seconds": round(self.seconds, 2),
            "model_version": self.model_version,
            "resumed_from": self.resumed_from,
            "run_id": self.run_id,
            "via": self.via,
            "interrupted": self.interrupted,
            "checkpoint": self.checkpoint,
        }


@dataclass
class _Counts:
    read: int = 0
    enriched: int = 0
    deduplicated: int = 0
    dlq: int = 0

    def add(self, other: _Counts) -> None:
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def replay_group(run_id: str) -> str:
    return f"finsent-replay-{run_id}"


def _chunks(items: Iterator[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    while chunk := list(islice(items, size)):
        yield chunk


def run_replay(
    plan: ReplayPlan,
    *,
    settings: Settings,
    engine: Engine,
    predictor: PredictorLike,
    stop: threading.Event,
    bootstrap: str | None = None,
    progress: bool = True,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> ReplaySummary:
    """Replay `plan.source` under `predictor.model_version`; see the module docstring."""
    started = time.monotonic()
    files = CheckpointFile(settings.data_dir / "replay", plan.run_id)
    checkpoint = None if plan.restart else files.load()
    resumed_from = None
    if checkpoint is not None and not checkpoint.completed and checkpoint.position is not None:
        resumed_from = checkpoint.position
        log.info("resuming replay %s from %s", plan.run_id, resumed_from)
    else:
        checkpoint = Checkpoint(run_id=plan.run_id, arguments=plan.arguments)
    done = _Counts(**checkpoint.counts)
    summary = ReplaySummary(plan.run_id, predictor.model_version, plan.via, resumed_from=resumed_from)
    summary.checkpoint = str(files.path)
    remaining = plan.source.total(checkpoint.position)

    from tqdm import tqdm

    bar = tqdm(
        total=None if remaining is None else remaining + done.read,
        initial=done.read,
        unit="doc",
        desc=f"replay {plan.run_id}",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    bucket = TokenBucket(plan.rate, sleep=stop.wait)
    if plan.via == "kafka":
        if bootstrap is None:
            raise ValueError("[RPL003] the kafka path needs a bootstrap")
        step: _Step = _KafkaStep(plan, settings, bootstrap, engine, predictor)
        size = plan.batch_size * plan.chunk_batches
    else:
        step = _ProcessStep(settings.data_dir / "replay" / f"{plan.run_id}.dlq.jsonl", engine, predictor)
        size = plan.batch_size
    items = plan.source.items(checkpoint.position)
    try:
        for chunk in _chunks(items, size):
            bucket.acquire(len(chunk))
            if stop.is_set():  # stopped while rate-limited: this chunk was not started
                summary.interrupted = True
                break
            counts, complete = step(chunk, stop)
            done.add(counts)
            bar.update(counts.read)
            bar.set_postfix(enriched=done.enriched, dedup=done.deduplicated, dlq=done.dlq, refresh=False)
            if not complete:
                summary.interrupted = True
                break
            checkpoint.position = chunk[-1].position
            checkpoint.counts = {name: getattr(done, name) for name in COUNT_NAMES}
            checkpoint.batches += 1
            files.save(checkpoint)
            if on_checkpoint is not None:
                on_checkpoint(checkpoint)
            if stop.is_set():
                summary.interrupted = True
                break
        if not summary.interrupted:
            checkpoint.completed = True
            checkpoint.counts = {name: getattr(done, name) for name in COUNT_NAMES}
            files.save(checkpoint)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator: release its consumer or cursor now
        bar.close()
        step.close()
    for name in COUNT_NAMES:
        setattr(summary, name, getattr(done, name))
    summary.seconds = time.monotonic() - started
    return summary


class _Step:
    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[_Counts, bool]: ...

    def close(self) -> None: ...


def _split(
    chunk: Sequence[SourceItem], engine: Engine, version: str
) -> tuple[list[SourceItem], list[DeadLetter], int]:
    """(items to score, dead letters from the source, items already stored under `version`)."""
    letters = [item.letter for item in chunk if item.letter is not None]
    news = [item for item in chunk if item.news is not None]
    stored = existing_enrichment_ids(engine, [item.news.id for item in news if item.news], version)
    fresh, seen = [], set(stored)
    for item in news:
        assert item.news is not None
        if item.news.id not in seen:
            seen.add(item.news.id)
            fresh.append(item)
    return fresh, letters, len(news) - len(fresh)


class _ProcessStep(_Step):
    """In process: `process_batch` on the chunk (one batch)."""

    def __init__(self, dlq_path: Path, engine: Engine, predictor: PredictorLike) -> None:
        self._dlq_path = dlq_path
        self._engine = engine
        self._predictor = predictor
        self._store = partial(store_batch, engine)

    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[_Counts, bool]:
        fresh, letters, already = _split(chunk, self._engine, self._predictor.model_version)
        items = [BatchItem(news=i.news, origin=i.origin, payload=i.payload or encode(i.news)) for i in fresh if i.news]
        if not items:  # everything already stored (or unreadable): nothing to score
            return _Counts(read=len(chunk), deduplicated=already, dlq=self._write_letters(letters)), True
        outcome = process_batch(items, self._predictor, self._store)
        letters += outcome.dead_letters
        self._write_letters(letters)
        counts = _Counts(
            read=len(chunk),
            enriched=outcome.stored.enrichments_inserted,
            deduplicated=already + outcome.duplicates,
            dlq=len(letters),
        )
        return counts, True

    def _write_letters(self, letters: Sequence[DeadLetter]) -> int:
        if letters:
            self._dlq_path.parent.mkdir(parents=True, exist_ok=True)
            with self._dlq_path.open("ab") as handle:
                handle.writelines(encode(letter) + b"\n" for letter in letters)
        return len(letters)

    def close(self) -> None:
        pass


class _RunRecords:
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


class _KafkaStep(_Step):
    """Through the broker: produce the chunk to the replay topic, let a `ModelWorker` in the run's
    own group store it, return once the group has passed the chunk's last offsets."""

    def __init__(
        self,
        plan: ReplayPlan,
        settings: Settings,
        bootstrap: str,
        engine: Engine,
        predictor: PredictorLike,
    ) -> None:
        from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer

        self._run = plan.run_id
        self._engine = engine
        self._version = predictor.model_version
        self.topic = settings.topic_replay
        self.topic_enriched = f"{self.topic}.enriched"
        self.topic_dlq = f"{self.topic}.dlq"
        self.group = replay_group(plan.run_id)
        ensure_topics(
            bootstrap, [self.topic, self.topic_enriched, self.topic_dlq], partitions=settings.kafka_partitions
        )
        _start_group_at_end(bootstrap, self.topic, self.group)
        self._producer: KafkaProducer = make_producer(bootstrap, client_id=f"{settings.kafka_client_id}-replay")
        self._consumer = make_consumer(
            bootstrap,
            group_id=self.group,
            topics=[self.topic],
            client_id=f"{settings.kafka_client_id}-replay",
            max_poll_records=plan.batch_size,
            fetch_max_wait_ms=50,
        )
        self.worker = ModelWorker(
            consumer=_RunRecords(self._consumer, plan.run_id),  # type: ignore[arg-type]
            producer=self._producer,
            predictor=predictor,
            store=partial(store_batch, engine),
            config=ModelWorkerConfig(
                topic_in=self.topic,
                topic_enriched=self.topic_enriched,
                topic_dlq=self.topic_dlq,
                batch_max_items=plan.batch_size,
                batch_max_ms=200,
            ),
        )

    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[_Counts, bool]:
        fresh, letters, already = _split(chunk, self._engine, self._version)
        headers = [(RUN_HEADER, self._run.encode())]
        sends = CheckedSends(self._producer)
        for i in fresh:
            if i.news is not None:
                sends.send(
                    self.topic, key=i.news.id.encode(), value=encode(i.news), headers=headers,
                    timestamp_ms=int(i.news.published_at.timestamp() * 1000),
                )
        for letter in letters:
            sends.send(self.topic_dlq, key=(letter.news_id or "").encode(), value=encode(letter))
        targets: dict[TopicPartition, int] = {}
        for meta in sends.wait():
            if meta.topic != self.topic:
                continue
            tp = TopicPartition(meta.topic, meta.partition)
            targets[tp] = max(targets.get(tp, 0), meta.offset + 1)
        before = self.worker.totals.as_dict()
        totals = self.worker.run(stop, until=lambda _t: self._reached(targets)) if targets else self.worker.totals
        enriched = totals.stored - before["stored"]
        dlq = len(letters) + totals.dlq - before["dlq"]
        complete = self._reached(targets)
        read = len(chunk) if complete else len(letters) + already + (totals.consumed - before["consumed"])
        counts = _Counts(read=read, enriched=enriched, dlq=dlq, deduplicated=max(read - enriched - dlq, 0))
        return counts, complete

    def _reached(self, targets: dict[TopicPartition, int]) -> bool:
        assigned = self._consumer.assignment()
        for tp, end in targets.items():
            if tp not in assigned:
                return False
            try:
                if self._consumer.position(tp, timeout_ms=0) < end:
                    return False
            except (KafkaTimeoutError, AssertionError, TypeError):
                return False
        return True

    def close(self) -> None:
        self._consumer.close(autocommit=False)
        self._producer.close(timeout=5)


def _start_group_at_end(bootstrap: str, topic: str, group: str) -> None:
    """Commit the replay topic's high watermarks for `group` where it has no offset yet, so a new
    run's group skips what earlier runs left in the shared topic (`latest` is wrong on Tansu)."""
    from pipeline.kafka.clients import make_consumer, topic_end_offsets

    ends = topic_end_offsets(bootstrap, topic)
    consumer = make_consumer(bootstrap, group_id=group)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        missing = {tp: OffsetAndMetadata(ends[tp.partition], "", -1) for tp in tps if consumer.committed(tp) is None}
        if missing:
            consumer.commit(missing)
    finally:
        consumer.close(autocommit=False)


def summary_counts(summary: ReplaySummary) -> dict[str, int]:
    return {name: getattr(summary, name) for name in COUNT_NAMES}


