"""The faust-streaming app of `finsent worker stream`: one agent over `news.enriched`, one over
`alerts.events`, in the consumer group `FINSENT_STREAM_GROUP` (start more workers to share the
partitions). Settings come from `pipeline.kafka.faust_settings` (what works on Tansu and Kafka).

What the app relies on, and what it does not (see ../shared/KAFKA.md):
- at-least-once: a record is acked (so its offset may be committed) only after its notices are
  stored; the agents iterate `stream.noack()` and ack by hand, so a record whose processing was
  cancelled or failed is never acked, and another worker (or this one, later) takes it again.
  Re-processing is harmless: notices are unique per (watchlist, news_id, model_version).
- no faust tables: their recovery reads the changelog to the wrong end offset on Tansu. The
  agents keep no state: the index derives from Postgres, decisions are rows.
- `stream_wait_empty=False`: a stopping worker does not wait for in-flight records (the
  "Wait for streams" step that hung 1 in 4 shutdowns); their offsets are not committed.
- faust binds a web port even with the web server off: a free one is picked.
- fetches wait at most `FETCH_MAX_WAIT_MS`, not faust's hard-coded 1,500 ms: Tansu holds a fetch
  for its whole wait even when records arrive meanwhile (`bench/tansu_fetch_wait.py`, 100
  records/s: p50 388 ms from append to receipt at 1,500 ms, 33 ms at 100 ms). Apache Kafka answers
  as soon as records arrive, so there the shorter wait only means more idle fetches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AioKafkaFaustConsumer
from faust.types import EventT, StreamT

from pipeline.config import Settings
from pipeline.kafka.broker import free_port
from pipeline.kafka.clients import faust_settings
from pipeline.kafka.security import KafkaSecurity
from workers.stream.handlers import Record
from workers.stream.metrics import StreamMetrics

log = logging.getLogger(__name__)

Handle = Callable[[Record, int], None]
Agent = Callable[[StreamT[Any]], Coroutine[Any, Any, None]]

MAX_BACKOFF_S = 30.0
FETCH_MAX_WAIT_MS = 100


_FAUST_LOG = logging.getLogger("faust.finsent")
"""The subclasses below log under `faust` (quieted with it), not as mode would name them."""


class _ShortFetchThread(AIOKafkaConsumerThread):
    logger = _FAUST_LOG

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class ShortFetchConsumer(AioKafkaFaustConsumer):
    """faust's aiokafka consumer, with fetches that wait `FETCH_MAX_WAIT_MS` at most."""

    logger = _FAUST_LOG

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ShortFetchThread(self, loop=self.loop, beacon=self.beacon)


def record_of(event: EventT[Any]) -> Record:
    m = event.message
    return Record(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        key=m.key,
        value=m.value,
        timestamp=m.timestamp,
    )


class StreamApp:
    """The faust app and its two agents; `stopping` makes the agents give up retrying."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        *,
        enriched: Handle,
        alert: Handle,
        executor: Executor,
        metrics: StreamMetrics,
        datadir: Path,
    ) -> None:
        self.executor = executor
        self.metrics = metrics
        self.stopping = False
        self.topics = (settings.topic_enriched, settings.topic_alerts)
        self.app = faust.App(
            settings.stream_group,
            **faust_settings(
                bootstrap,
                partitions=settings.kafka_partitions,
                web_port=free_port(),
                security=KafkaSecurity.from_settings(settings),
            ),
            stream_wait_empty=False,
            datadir=str(datadir),
            autodiscover=False,
            # bound here, in the worker's running loop: left lazy, `app.loop` is first read by
            # whichever thread gets there, and the consumer thread (its own loop) sometimes won,
            # so `app.start()` awaited a future of another loop
            loop=asyncio.get_running_loop(),
        )
        self.app.transport.Consumer = ShortFetchConsumer  # type: ignore[misc] # before the consumer exists
        for topic, name, handle in (
            (settings.topic_enriched, "enriched", enriched),
            (settings.topic_alerts, "alerts", alert),
        ):
            channel = self.app.topic(topic, key_serializer="raw", value_serializer="raw")
            self.app.agent(channel, name=f"{settings.stream_group}.{name}")(self._agent(handle))

    def _agent(self, handle: Handle) -> Agent:
        async def agent(stream: StreamT[Any]) -> None:
            events: AsyncIterator[EventT[Any]] = stream.noack().events()
            async for event in events:
                if not await self._process(handle, record_of(event)):
                    return  # stopping: this record stays unacked, so uncommitted
                await stream.ack(event)

        return agent

    async def _process(self, handle: Handle, record: Record) -> bool:
        """Run `handle` on the executor until it succeeds (True) or the app is stopping (False)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self.stopping:
            try:
                await loop.run_in_executor(self.executor, handle, record, attempt)
                return True
            except Exception as exc:  # noqa: BLE001 - retried; `handle` dead-letters what is not transient
                attempt += 1
                self.metrics.retries.inc()
                delay = min(0.25 * 2**attempt, MAX_BACKOFF_S)
                log.warning(
                    "%s[%d]@%d failed (attempt %d, retrying in %.1fs): %s: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    attempt,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                await asyncio.sleep(delay)
        return False

    def assignment(self) -> list[str]:
        """`topic:partition` of the partitions this worker holds now."""
        try:
            assigned = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - not started / stopping
            return []
        return sorted(f"{tp.topic}:{tp.partition}" for tp in assigned if tp.topic in self.topics)
