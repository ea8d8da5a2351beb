"""The transport-free step of `finsent worker stream`: an enriched article (or an alert event) in,
its notices stored in the outbox, what happened counted out. Kafka stays in the worker.

State lives in Postgres only: the index is derived from the `watchlists` table (refreshed when
the revision counter moves, checked at most every `refresh_s`), and every decision is a row, so a
worker can be restarted, killed or joined by others at any time.

Model version: when a version is active (`FINSENT_ALERTS_MODEL_VERSION`, else `finsent model
activate`), only that version's enrichments notify (others are skipped and counted); with none
active, every version does (each version is its own notice: the key includes it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from alerts.receivers import Receiver
from alerts.watchlists.matcher import ArticleView, Match, WatchIndex
from alerts.watchlists.notices import (
    NoticeDraft,
    Recorded,
    alert_notice_id,
    article_notice_id,
    record_notices,
)
from alerts.watchlists.payloads import ArticleText, alert_payload, match_payload
from alerts.watchlists.store import changes_since
from pipeline.db.activation import active_version
from pipeline.db.models import Article
from schemas import AlertEvent, EnrichedNews, utc_now

log = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    """What one item led to."""

    matched: int = 0
    """Watchlists whose condition the item met."""
    queued: list[str] = field(default_factory=list)
    deliveries: int = 0
    duplicates: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    skipped: str | None = None
    """Why the item was not matched at all (e.g. `model_version`), or None."""

    @classmethod
    def of(cls, matched: int, recorded: Recorded) -> StepOutcome:
        return cls(matched, recorded.queued, recorded.deliveries, recorded.duplicates, recorded.suppressed)


class WatchlistProcessor:
    """Matches items against the watchlists and records the notices. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        receivers: Mapping[str, Receiver],
        *,
        public_url: str = "http://localhost:8080",
        refresh_s: float = 1.0,
        model_version: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.receivers = dict(receivers)
        self.public_url = public_url
        self.refresh_s = refresh_s
        self.configured_version = model_version
        self.clock = clock
        self.monotonic = monotonic
        self.index = WatchIndex()
        self.revision = 0
        self.model_version: str | None = None
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> int:
        """Apply the watchlist changes since the last refresh (at most every `refresh_s` unless
        `force`); returns how many watchlists changed."""
        with self._lock:
            return self._refresh(force)

    def _refresh(self, force: bool) -> int:
        now = self.monotonic()
        if not force and self._checked_at is not None and now - self._checked_at < self.refresh_s:
            return 0
        changes = changes_since(self.engine, self.revision)
        for watchlist in changes.upserted:
            self.index.put(watchlist)
        for watchlist_id in changes.removed:
            self.index.remove(watchlist_id)
        self.model_version = active_version(self.engine, self.configured_version).model_version
        if changes.revision != self.revision:
            log.info(
                "watchlists at revision %d: %d active (%d changed, %d removed)",
                changes.revision,
                len(self.index),
                len(changes.upserted),
                len(changes.removed),
            )
        self.revision = changes.revision
        self._checked_at = now
        return len(changes.upserted) + len(changes.removed)

    def _article(self, news_id: str) -> ArticleText | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(Article.title, Article.url, Article.source).where(Article.id == news_id)).first()
        return ArticleText(row.title, row.url, row.source) if row is not None else None

    def on_enriched(self, item: EnrichedNews) -> StepOutcome:
        """Match one enriched article and store its notices (one transaction)."""
        with self._lock:
            self._refresh(False)
            if self.model_version is not None and item.model_version != self.model_version:
                return StepOutcome(skipped="model_version")
            if not self.index.may_match(item):
                return StepOutcome()
            article = self._article(item.news_id)
            if article is None:
                log.warning("article %s is not stored: no title for relevance or the notice", item.news_id)
            matches = self.index.match(ArticleView(item, len(article.title) if article else None))
        if not matches:
            return StepOutcome()
        now = self.clock()
        drafts = [self._article_draft(m, item, article, now) for m in matches]
        with self.engine.begin() as conn:
            recorded = record_notices(conn, drafts, self.receivers, now=now)
        return StepOutcome.of(len(matches), recorded)

    def _article_draft(self, match: Match, item: EnrichedNews, article: ArticleText | None, now: datetime) -> NoticeDraft:
        notice_id = article_notice_id(match.watchlist.id, item.news_id, item.model_version)
        payload = match_payload(
            notice_id=notice_id,
            watchlist=match.watchlist,
            item=item,
            article=article,
            hits=match.hits,
            public_url=self.public_url,
            now=now,
        )
        return NoticeDraft(
            notice_id,
            match.watchlist,
            "article",
            item.published_at,
            match.hits,
            payload,
            news_id=item.news_id,
            model_version=item.model_version,
        )

    def on_alert(self, event: AlertEvent) -> StepOutcome:
        """Turn one alert firing or resolution into a notice per watchlist on its topic or ticker."""
        with self._lock:
            self._refresh(False)
            if self.model_version is not None and event.model_version not in (None, self.model_version):
                return StepOutcome(skipped="model_version")
            matches = self.index.match_alert(event.topic, event.labels.get("ticker"))
        if not matches:
            return StepOutcome()
        now = self.clock()
        drafts = []
        for m in matches:
            notice_id = alert_notice_id(m.watchlist.id, event)
            payload = alert_payload(
                notice_id=notice_id, watchlist=m.watchlist, event=event, hits=m.hits, public_url=self.public_url, now=now
            )
            drafts.append(
                NoticeDraft(
                    notice_id,
                    m.watchlist,
                    "alert",
                    event.emitted_at,
                    m.hits,
                    payload,
                    model_version=event.model_version,
                    alert_fingerprint=event.fingerprint,
                    alert_status=event.status,
                )
            )
        with self.engine.begin() as conn:
            recorded = record_notices(conn, drafts, self.receivers, now=now)
        return StepOutcome.of(len(matches), recorded)
