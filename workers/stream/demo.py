"""The watchlist part of `finsent demo`: add `DEMO_WATCHLIST`, run a stream worker (the real faust
app, in a thread) over the demo's `news.enriched` and `alerts.events` until its group has
committed every record, with a local receiver that verifies signatures; report the notices.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from typing import NamedTuple

from kafka import TopicPartition
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.local_receiver import LocalReceiver
from alerts.receivers import Receiver
from alerts.watchlists.model import SentimentCondition, WatchlistSpec
from alerts.watchlists.store import WatchlistError, add_watchlist
from pipeline.config import Settings
from pipeline.db.models import WatchlistNotice
from pipeline.kafka.clients import make_consumer, topic_end_offsets
from pipeline.kafka.security import PLAINTEXT, KafkaSecurity
from schemas import utc_now
from workers.stream.worker import StreamWorker

log = logging.getLogger(__name__)

DEMO_WATCHLIST = WatchlistSpec(
    name="demo-watchlist",
    owner="finsent demo",
    entities=("Meridian Retail", "Halvorsen Mining", "Fabrikam Motors"),
    topics=("Macro",),
    condition=SentimentCondition(labels=("negative",)),
)
"""Negative news on three companies of the bundled sample or on `Macro`, and the alerts on `Macro`
(the topic the demo rules fire on with the shipped model)."""


class DemoStream(NamedTuple):
    notices: int
    """Notices queued (each sent to the receiver)."""
    delivered: int


def caught_up(
    bootstrap: str, group: str, topics: Sequence[str], *, security: KafkaSecurity = PLAINTEXT
) -> bool:
    """Whether `group` has committed the end offset of every partition of `topics`."""
    consumer = make_consumer(bootstrap, group_id=group, client_id="finsent-caught-up", security=security)
    try:
        for topic in topics:
            for partition, end in topic_end_offsets(bootstrap, topic, consumer=consumer).items():
                if end and (consumer.committed(TopicPartition(topic, partition)) or 0) < end:
                    return False
        return True
    finally:
        consumer.close(autocommit=False)


def run_demo_stream(settings: Settings, bootstrap: str, engine: Engine, stop: threading.Event) -> DemoStream:
    """See the module docstring; gives up when `stop` is set (the demo's deadline)."""
    try:
        add_watchlist(engine, DEMO_WATCHLIST, now=utc_now())
    except WatchlistError:
        pass  # a configured database that ran the demo before
    secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")[:32]
    with LocalReceiver(secret) as receiver:
        receivers = {"demo": Receiver(name="demo", url=receiver.url, secret=SecretStr(secret))}
        worker = StreamWorker(settings, bootstrap, engine, receivers)
        done = threading.Event()
        thread = threading.Thread(target=worker.run, args=(done,), name="demo-stream", daemon=True)
        thread.start()
        topics = [settings.topic_enriched, settings.topic_alerts]
        security = KafkaSecurity.from_settings(settings)
        while (
            not stop.is_set()
            and thread.is_alive()
            and not caught_up(bootstrap, settings.stream_group, topics, security=security)
        ):
            stop.wait(0.5)
        totals = worker.totals()
        while not stop.is_set() and thread.is_alive() and len(receiver.log.deliveries) < totals["queued"]:
            stop.wait(0.2)
        if not thread.is_alive():
            log.error("the demo's stream worker stopped early: watchlist notices are incomplete")
        done.set()
        thread.join(settings.stream_shutdown_s + 5)
        with engine.connect() as conn:
            queued = conn.scalar(select(func.count()).where(WatchlistNotice.status == "queued"))
        log.info("watchlist notices: %d queued, %d received", queued or 0, len(receiver.log.deliveries))
        return DemoStream(int(queued or 0), len(set(receiver.log.webhook_ids)))
