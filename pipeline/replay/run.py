"""Running a replay: source -> a step that stores each chunk -> checkpoint, resumable.

`replay_through(plan, step, ...)` reads `plan.source` in chunks and hands each to a `ReplayStep`;
both steps end in `pipeline.enrichment.process_batch` and the idempotent store:

- `ProcessStep` (the embedded default): `process_batch` in process, batch by batch; dead letters
  go to `<data_dir>/replay/<run-id>.dlq.jsonl`;
- the Kafka step (`workers/replay.py`: the model-worker logic in the run's own consumer group on
  the replay topic) when a broker is configured.

Items already enriched under the target model version are counted `already_stored` without being
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
from typing import Any, Literal, Protocol

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.db.writer import existing_enrichment_ids, store_batch
from pipeline.enrichment import BatchItem, PredictorLike, process_batch
from pipeline.replay.checkpoint import COUNT_NAMES, Checkpoint, CheckpointFile
from pipeline.replay.rate import TokenBucket
from pipeline.replay.sources import Position, ReplaySource, SourceItem
from schemas import DeadLetter, encode

log = logging.getLogger(__name__)

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
    already_stored: int = 0
    dlq: int = 0
    seconds: float = 0.0
    resumed_from: Position | None = None
    interrupted: bool = False
    checkpoint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "enriched": self.enriched,
            "already_stored": self.already_stored,
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
class Counts:
    """What one chunk (or a whole run) came to: `read = enriched + already_stored + dlq`."""

    read: int = 0
    enriched: int = 0
    already_stored: int = 0
    dlq: int = 0

    def add(self, other: Counts) -> None:
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _chunks(items: Iterator[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    while chunk := list(islice(items, size)):
        yield chunk


def replay_through(
    plan: ReplayPlan,
    step: ReplayStep,
    *,
    settings: Settings,
    model_version: str,
    stop: threading.Event,
    progress: bool = True,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> ReplaySummary:
    """Replay `plan.source` through `step` under `model_version`; see the module docstring."""
    started = time.monotonic()
    files = CheckpointFile(settings.data_dir / "replay", plan.run_id)
    checkpoint = None if plan.restart else files.load()
    resumed_from = None
    if checkpoint is not None and not checkpoint.completed and checkpoint.position is not None:
        resumed_from = checkpoint.position
        log.info("resuming replay %s from %s", plan.run_id, resumed_from)
    else:
        checkpoint = Checkpoint(run_id=plan.run_id, arguments=plan.arguments)
    done = Counts(**checkpoint.counts)
    summary = ReplaySummary(plan.run_id, model_version, plan.via, resumed_from=resumed_from)
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
    size = plan.batch_size * (plan.chunk_batches if plan.via == "kafka" else 1)
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
            bar.set_postfix(enriched=done.enriched, stored_before=done.already_stored, dlq=done.dlq, refresh=False)
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


class ReplayStep(Protocol):
    """Stores one chunk; returns its counts and whether the whole chunk was stored."""

    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[Counts, bool]: ...

    def close(self) -> None: ...


def split_fresh(
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


class ProcessStep:
    """In process: `process_batch` on the chunk (one batch)."""

    def __init__(self, dlq_path: Path, engine: Engine, predictor: PredictorLike) -> None:
        self._dlq_path = dlq_path
        self._engine = engine
        self._predictor = predictor
        self._store = partial(store_batch, engine)

    def __call__(self, chunk: Sequence[SourceItem], stop: threading.Event) -> tuple[Counts, bool]:
        fresh, letters, already = split_fresh(chunk, self._engine, self._predictor.model_version)
        items = [BatchItem(news=i.news, origin=i.origin, payload=i.payload or encode(i.news)) for i in fresh if i.news]
        if not items:  # everything already stored (or unreadable): nothing to score
            return Counts(read=len(chunk), already_stored=already, dlq=self._write_letters(letters)), True
        outcome = process_batch(items, self._predictor, self._store)
        letters += outcome.dead_letters
        self._write_letters(letters)
        counts = Counts(
            read=len(chunk),
            enriched=outcome.stored.enrichments_inserted,
            already_stored=already + outcome.duplicates,
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
