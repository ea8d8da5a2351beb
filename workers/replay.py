"""The replay process's Kafka path and wiring: `run_replay` picks the step that
`pipeline.replay.run.replay_through` runs: in process (`ProcessStep`) or through the broker (`KafkaStep`).

`via="kafka"` (a broker is configured): each chunk is produced to `settings.topic_replay` (keyed by
news id, original `published_at`, header `finsent-replay: <run-id>`), then consumed by a
`ModelWorker` in the run's own group `finsent-replay-<run-id>`; its enrichments go to
`<replay topic>.enriched` and dead letters to `<replay topic>.dlq`. The live group
(`settings.model_group`) and the live topics are never touched. The group starts at the replay
topic's high watermark when first created; records of other runs are skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial

from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.db.writer import store_batch
from pipeline.enrichment import PredictorLike
from pipeline.kafka.produce import CheckedSends
from pipeline.replay.checkpoint import Checkpoint
from pipeline.replay.run import (
    Counts,
    ProcessStep,
    ReplayPlan,
    ReplayStep,
    ReplaySummary,
    replay_through,
    split_fresh,
)
from pipeline.replay.run_group import RUN_HEADER, RunRecords, replay_group, start_group_at_end
from pipeline.replay.sources import SourceItem
from schemas import encode
from workers.model_worker import ModelWorker, ModelWorkerConfig

log = logging.getLogger(__name__)

__all__ = ["KafkaStep", "ReplayPlan", "ReplaySummary", "replay_group", "run_replay"]


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
    """Replay `plan.source` under `predictor.model_version` by `plan.via`."""
    step: ReplayStep
    if plan.via == "kafka":
        if bootstrap is None:
            raise ValueError("[RPL003] the kafka path needs a bootstrap")
        step = KafkaStep(plan, settings, bootstrap, engine, predictor)
    else:
        step = ProcessStep(settings.data_dir / "replay" / f"{plan.run_id}.dlq.jsonl", engine, predictor)
    return replay_through(plan, step, settings=settings, model_version=predictor.model_version, stop=stop, progress=progress,
               on_checkpoint=on_checkpoint)


class KafkaStep:
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
        from pipeline.kafka.security import KafkaSecurity

        self._run = plan.run_id
        self._engine = engine
        self._version = predictor.model_version
        self.topic = settings.topic_replay
        self.topic_enriched = f"{self.topic}.enriched"
        self.topic_dlq = f"{self.topic}.dlq"
        self.group = replay_group(plan.run_id)
        security = KafkaSecurity.from_settings(settings)
        ensure_topics(
            bootstrap,
            [self.topic, self.topic_enriched, self.topic_dlq],
            partitions=settings.kafka_partitions,
            security=security,
            timeout_s=settings.kafka_connect_timeout_s,
        )
        start_group_at_end(bootstrap, self.topic, self.group, security=security)
        self._producer: KafkaProducer = make_producer(
            bootstrap, client_id=f"{settings.kafka_client_id}-replay", security=security
        )
        self._consumer = make_consumer(
            bootstrap,
            group_id=self.group,
            topics=[self.topic],
            security=security,
            client_id=f"{settings.kafka_client_id}-replay",
            max_poll_records=plan.batch_size,
            fetch_max_wait_ms=50,
        )
        self.worker = ModelWorker(
            consumer=RunRecords(self._consumer, plan.run_id),  # type: ignore[arg-type]
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

    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[Counts, bool]:
        fresh, letters, already = split_fresh(chunk, self._engine, self._version)
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
        counts = Counts(read=read, enriched=enriched, dlq=dlq, already_stored=max(read - enriched - dlq, 0))
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
