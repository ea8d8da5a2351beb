"""The ingest process: run the configured sources into one `IngestPublisher` until done or stopped.

Files and stdin end at EOF, read in batches of `batch_size` records; feeds (unless `once`) run
until `stop` is set (SIGTERM/SIGINT in the command). Each batch is produced and acknowledged
before the next is read; a batch the broker or the database refused is retried with exponential
backoff (`tenacity`), and after `BATCH_ATTEMPTS` the run stops with that error: everything before
it is recorded, so running the same input again sends only the rest. One bad row never stops a
run: it is dead-lettered with its reason. (HTTP push is `finsent serve`.)
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Final

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.fetch import FetchPolicy, guarded_client
from pipeline.ingest.publisher import IngestCounts, IngestMetrics, IngestPublisher, Producer
from pipeline.ingest.seen import SeenStore
from pipeline.ingest.sources.archive import ColumnMap, read_archive
from pipeline.ingest.sources.feeds import Feed, FeedPoller, FeedScheduler, PollResult, poll_once
from pipeline.ingest.sources.records import SourceRecord
from pipeline.ingest.sources.stdin import read_jsonl_stream
from pipeline.kafka.produce import ProduceError
from schemas import topics

log = logging.getLogger(__name__)

BATCH_ATTEMPTS: Final = 5
"""Tries of one batch (waits 0.5, 1, 2, 4 s between them) before the run stops with the error."""
DEFAULT_BATCH_SIZE: Final = 200


@dataclass(frozen=True, slots=True)
class FileSource:
    path: Path
    column_map: ColumnMap = field(default_factory=ColumnMap)
    source: str = ""
    timezone: tzinfo = UTC

    @property
    def label(self) -> str:
        return self.source or self.path.name


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """Everything one `finsent ingest` run reads from."""

    feeds: tuple[Feed, ...] = ()
    files: tuple[FileSource, ...] = ()
    stdin: bool = False
    stdin_source: str = "stdin"
    stdin_timezone: tzinfo = UTC
    once: bool = False
    dedup_window: int = 50_000
    dedup_ttl: timedelta | None = timedelta(hours=48)
    batch_size: int = DEFAULT_BATCH_SIZE
    fetch: FetchPolicy = FetchPolicy()

    @property
    def is_empty(self) -> bool:
        return not (self.feeds or self.files or self.stdin)

    @property
    def runs_until_stopped(self) -> bool:
        return bool(self.feeds) and not self.once


def make_publisher(
    plan: IngestPlan,
    producer: Producer,
    *,
    seen: SeenStore | None,
    topic_raw: str = topics.RAW,
    topic_dlq: str = topics.DLQ,
    registry: CollectorRegistry | None = None,
) -> IngestPublisher:
    """The publisher of a run: `seen` is the durable dedup (None: this process's memory only)."""
    return IngestPublisher(
        producer,
        Deduplicator(window=plan.dedup_window, ttl=plan.dedup_ttl),
        seen=seen,
        topic_raw=topic_raw,
        topic_dlq=topic_dlq,
        metrics=IngestMetrics(registry or CollectorRegistry()),
    )


def run_ingest(
    plan: IngestPlan,
    producer: Producer,
    *,
    stop: threading.Event,
    seen: SeenStore | None = None,
    topic_raw: str = topics.RAW,
    topic_dlq: str = topics.DLQ,
    registry: CollectorRegistry | None = None,
    stdin: BinaryIO | None = None,
    http_client: httpx.Client | None = None,
) -> IngestCounts:
    """Run `plan` until its sources end (or `stop` is set); return the counts."""
    publisher = make_publisher(
        plan, producer, seen=seen, topic_raw=topic_raw, topic_dlq=topic_dlq, registry=registry
    )
    return run_sources(plan, publisher, stop=stop, stdin=stdin, http_client=http_client)


def run_sources(
    plan: IngestPlan,
    publisher: IngestPublisher,
    *,
    stop: threading.Event,
    stdin: BinaryIO | None = None,
    http_client: httpx.Client | None = None,
) -> IngestCounts:
    """Feed every source of `plan` into `publisher`, batch by batch."""
    client = http_client or guarded_client(plan.fetch, httpx.Timeout(20.0, connect=10.0))
    scheduler: FeedScheduler | None = None
    feed_zone = {feed.url: feed.timezone for feed in plan.feeds}

    def on_poll(result: PollResult) -> None:
        for batch in batches(result.records, plan.batch_size):
            publish_batch(publisher, batch, source=result.feed.label, tz=feed_zone[result.feed.url], stop=stop)

    try:
        poller = FeedPoller(client, policy=plan.fetch)
        if plan.feeds and not plan.once:
            scheduler = FeedScheduler(poller, plan.feeds, on_poll).start()
        elif plan.feeds:
            poll_once(poller, plan.feeds, on_poll)
        for spec in plan.files:
            log.info("reading %s", spec.path)
            _drain(publisher, read_archive(spec.path, spec.column_map), spec.label, spec.timezone, plan, stop)
        if plan.stdin:
            records = read_jsonl_stream(stdin or sys.stdin.buffer, name=plan.stdin_source)
            _drain(publisher, records, plan.stdin_source, plan.stdin_timezone, plan, stop)
        if plan.runs_until_stopped:
            stop.wait()
            log.info("stop requested: shutting down")
    finally:
        if scheduler is not None:
            scheduler.stop()
        if http_client is None:
            client.close()
    return publisher.counts


def _drain(
    publisher: IngestPublisher,
    records: Iterable[SourceRecord],
    source: str,
    tz: tzinfo,
    plan: IngestPlan,
    stop: threading.Event,
) -> None:
    for batch in batches(records, plan.batch_size):
        if stop.is_set():
            return
        publish_batch(publisher, batch, source=source, tz=tz, stop=stop)


def batches(records: Iterable[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def publish_batch(
    publisher: IngestPublisher,
    batch: Sequence[SourceRecord],
    *,
    source: str,
    tz: tzinfo,
    stop: threading.Event,
) -> None:
    """Publish one batch, retrying it while the broker or the database refuses (then re-raise)."""
    retrying = Retrying(
        retry=retry_if_exception_type((ProduceError, OperationalError)),
        stop=stop_after_attempt(BATCH_ATTEMPTS) | stop_when_event_set(stop),
        wait=wait_exponential(multiplier=0.5, max=30),
        sleep=stop.wait,
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    retrying(publisher.publish_records, batch, source=source, default_tz=tz)
