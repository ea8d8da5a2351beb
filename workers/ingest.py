"""The ingest process: run the configured sources into one `IngestPublisher` until done or stopped.

Files and stdin end at EOF; feeds (unless `once`) and the HTTP endpoint run until `stop` is set
(SIGTERM/SIGINT in the command). Broker-free: the caller passes the producer, so tests use a fake.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO

import httpx
from prometheus_client import CollectorRegistry

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.publisher import IngestCounts, IngestMetrics, IngestPublisher, Producer
from pipeline.ingest.sources.archive import ColumnMap, read_archive
from pipeline.ingest.sources.feeds import Feed, FeedPoller, FeedScheduler, PollResult, poll_once
from pipeline.ingest.sources.http_push import DEFAULT_MAX_BODY_BYTES, IngestHTTPServer
from pipeline.ingest.sources.records import SourceRecord
from pipeline.ingest.sources.stdin import read_jsonl_stream
from schemas import topics

log = logging.getLogger(__name__)


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
class ServeSource:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timezone: tzinfo = UTC


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """Everything one `finsent ingest` run reads from."""

    feeds: tuple[Feed, ...] = ()
    files: tuple[FileSource, ...] = ()
    stdin: bool = False
    stdin_source: str = "stdin"
    stdin_timezone: tzinfo = UTC
    serve: ServeSource | None = None
    once: bool = False
    dedup_window: int = 50_000
    dedup_ttl: timedelta | None = timedelta(hours=48)

    @property
    def is_empty(self) -> bool:
        return not (self.feeds or self.files or self.stdin or self.serve)

    @property
    def runs_until_stopped(self) -> bool:
        return self.serve is not None or (bool(self.feeds) and not self.once)


def run_ingest(
    plan: IngestPlan,
    producer: Producer,
    *,
    stop: threading.Event,
    topic_raw: str = topics.RAW,
    topic_dlq: str = topics.DLQ,
    registry: CollectorRegistry | None = None,
    stdin: BinaryIO | None = None,
    http_client: httpx.Client | None = None,
    on_serving: Callable[[IngestHTTPServer], None] | None = None,
) -> IngestCounts:
    """Run `plan` until its sources end (or `stop` is set); flush the producer; return the counts."""
    registry = registry or CollectorRegistry()
    publisher = IngestPublisher(
        producer,
        Deduplicator(window=plan.dedup_window, ttl=plan.dedup_ttl),
        topic_raw=topic_raw,
        topic_dlq=topic_dlq,
        metrics=IngestMetrics(registry),
    )
    client = http_client or httpx.Client(timeout=httpx.Timeout(20.0, connect=10.0))
    server: IngestHTTPServer | None = None
    scheduler: FeedScheduler | None = None
    feed_zone = {feed.url: feed.timezone for feed in plan.feeds}

    def on_poll(result: PollResult) -> None:
        for record in result.records:
            _submit(publisher, record, source=result.feed.label, default_tz=feed_zone[result.feed.url])

    try:
        if plan.serve is not None:
            server = IngestHTTPServer(
                publisher,
                registry,
                host=plan.serve.host,
                port=plan.serve.port,
                max_body_bytes=plan.serve.max_body_bytes,
                default_tz=plan.serve.timezone,
                health=lambda: {"ok": True, "counts": publisher.counts.as_dict()},
            ).start()
            if on_serving is not None:
                on_serving(server)
        poller = FeedPoller(client)
        if plan.feeds and not plan.once:
            scheduler = FeedScheduler(poller, plan.feeds, on_poll).start()
        elif plan.feeds:
            poll_once(poller, plan.feeds, on_poll)
        for spec in plan.files:
            log.info("reading %s", spec.path)
            for record in read_archive(spec.path, spec.column_map):
                if stop.is_set():
                    break
                _submit(publisher, record, source=spec.label, default_tz=spec.timezone)
        if plan.stdin:
            for record in read_jsonl_stream(stdin or sys.stdin.buffer, name=plan.stdin_source):
                if stop.is_set():
                    break
                _submit(publisher, record, source=plan.stdin_source, default_tz=plan.stdin_timezone)
        if plan.runs_until_stopped:
            stop.wait()
            log.info("stop requested: shutting down")
    finally:
        if scheduler is not None:
            scheduler.stop()
        if server is not None:
            server.stop()
        if http_client is None:
            client.close()
        publisher.flush()
    return publisher.counts


def _submit(publisher: IngestPublisher, record: SourceRecord, *, source: str, default_tz: tzinfo) -> None:
    if record.item is None:
        publisher.dead_letter(
            record.raw,
            source=source,
            origin=record.origin,
            reason=record.error or "unreadable",
            error_type=record.error_type or "Unreadable",
        )
        return
    publisher.submit(record.raw, record.item, source=source, default_tz=default_tz, origin=record.origin)
