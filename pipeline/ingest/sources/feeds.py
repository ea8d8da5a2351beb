"""RSS/Atom feeds: conditional GET (ETag / Last-Modified), 304 handling, per-feed backoff.

`FeedPoller.poll(feed)` does one poll and returns a `PollResult` (pure apart from the HTTP call;
the clock is injected). Each fetch goes through `pipeline.ingest.fetch`: public addresses only
(every redirect hop checked), the body streamed and capped after decoding. `FeedScheduler` runs one APScheduler interval job per feed; when handling
a poll's entries fails, the feed's validators are dropped so the next poll fetches them again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from urllib.parse import urlsplit

import feedparser
import httpx

from pipeline.ingest.fetch import FetchPolicy, FetchRefused, fetch
from pipeline.ingest.sources.records import SourceRecord
from schemas import utc_now

log = logging.getLogger(__name__)

USER_AGENT = "finsent-ingest/0.1 (+https://example.com/finsent)"
_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True, slots=True)
class Feed:
    url: str
    name: str = ""
    interval_s: float = 300.0
    timezone: tzinfo = UTC

    @property
    def label(self) -> str:
        return self.name or urlsplit(self.url).hostname or self.url


@dataclass(frozen=True, slots=True)
class PollResult:
    """`ok`: fetched (records may be empty); `not_modified`: 304; `error`; `backoff`: skipped."""

    feed: Feed
    status: Literal["ok", "not_modified", "error", "backoff"]
    records: tuple[SourceRecord, ...] = ()
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(slots=True)
class _FeedState:
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    retry_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def entry_item(entry: Any, feed: Feed) -> dict[str, object]:
    """A feedparser entry as a plain item for `normalize` (raw date strings, first content)."""
    content = entry.get("content") or []
    body = (content[0].get("value") if content else None) or entry.get("summary") or ""
    tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    return {
        "title": entry.get("title", ""),
        "url": entry.get("link"),
        "body": body,
        "published_at": entry.get("published") or entry.get("updated"),
        "source": feed.label,
        "tickers": [t for t in tags if t.startswith("$") or ":" in t],
        "guid": entry.get("id"),
    }


class FeedPoller:
    """Polls feeds over one `httpx.Client`, remembering validators and failures per feed URL.

    `policy` decides which addresses may be fetched (public only by default) and how much is read;
    pass the client of `fetch.guarded_client(policy)` to check addresses at connect time too.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: FetchPolicy | None = None,
        backoff_base_s: float = 30.0,
        backoff_max_s: float = 3_600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.policy = policy or FetchPolicy()
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._states: dict[str, _FeedState] = {}
        self._states_lock = threading.Lock()

    def _state(self, feed: Feed) -> _FeedState:
        with self._states_lock:
            return self._states.setdefault(feed.url, _FeedState())

    def failures(self, feed: Feed) -> int:
        return self._state(feed).failures

    def forget_validators(self, feed: Feed) -> None:
        """Drop the feed's ETag / Last-Modified: its last entries were not taken (publishing
        failed), so the next poll must fetch them again instead of getting 304."""
        state = self._state(feed)
        with state.lock:
            state.etag = state.last_modified = None

    def poll(self, feed: Feed) -> PollResult:
        """One conditional GET, unless the feed is backing off after errors."""
        state = self._state(feed)
        with state.lock:
            now = self._clock()
            if state.retry_at is not None and now < state.retry_at:
                return PollResult(feed, "backoff", retry_at=state.retry_at)
            headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, */*"}
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
            try:
                response = fetch(self.client, feed.url, headers, self.policy)
            except (httpx.HTTPError, FetchRefused) as exc:
                return self._failed(feed, state, f"{type(exc).__name__}: {exc}")
            if response.status_code == 304:
                state.failures, state.retry_at = 0, None
                return PollResult(feed, "not_modified")
            if response.status_code != 200:
                return self._failed(feed, state, f"HTTP {response.status_code}")
            described = {k: v for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS}
            parsed = feedparser.parse(response.body, response_headers=described)
            if parsed.bozo and not parsed.entries:
                return self._failed(feed, state, f"not a feed: {parsed.get('bozo_exception')}")
            state.etag = response.headers.get("ETag")
            state.last_modified = response.headers.get("Last-Modified")
            state.failures, state.retry_at = 0, None
        records = []
        for number, entry in enumerate(parsed.entries, start=1):
            item = entry_item(entry, feed)
            raw = json.dumps(item, default=str, ensure_ascii=False).encode("utf-8")
            records.append(SourceRecord(raw, item, f"{feed.url}#{number}"))
        log.info("feed %s: %d entries", feed.label, len(records))
        return PollResult(feed, "ok", tuple(records))

    def _failed(self, feed: Feed, state: _FeedState, error: str) -> PollResult:
        state.failures += 1
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (state.failures - 1))
        state.retry_at = self._clock() + timedelta(seconds=delay)
        log.warning(
            "feed %s failed (%d in a row, retry in %.0fs): %s", feed.label, state.failures, delay, error
        )
        return PollResult(feed, "error", error=error, retry_at=state.retry_at)


class FeedScheduler:
    """One APScheduler interval job per feed; each result goes to `on_result` (from a worker thread)."""

    def __init__(self, poller: FeedPoller, feeds: Sequence[Feed], on_result: Callable[[PollResult], None]):
        from apscheduler.schedulers.background import BackgroundScheduler

        self.poller = poller
        self.feeds = tuple(feeds)
        self.on_result = on_result
        self._scheduler = BackgroundScheduler(timezone=UTC)
        for feed in self.feeds:
            self._scheduler.add_job(
                self._run,
                "interval",
                args=(feed,),
                seconds=feed.interval_s,
                id=feed.url,
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
            )

    def _run(self, feed: Feed) -> None:
        try:
            self.on_result(self.poller.poll(feed))
        except Exception:  # a job that raises is only logged by APScheduler; say which feed
            self.poller.forget_validators(feed)
            log.exception("feed %s: entries not taken, fetched again next poll", feed.label)

    def start(self) -> FeedScheduler:
        self._scheduler.start()
        return self

    def stop(self, wait: bool = True) -> None:
        self._scheduler.shutdown(wait=wait)


def poll_once(poller: FeedPoller, feeds: Sequence[Feed], on_result: Callable[[PollResult], None]) -> None:
    """Poll every feed once, in order (`--once`)."""
    for feed in feeds:
        on_result(poller.poll(feed))
