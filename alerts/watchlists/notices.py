"""Notices into the outbox: one `watchlist_notices` row per (watchlist, item), and when it is
queued, one `webhook_deliveries` row per receiver (`event_id` = the notice id), in the caller's
transaction. The dispatcher (`alerts.dispatcher`) signs and sends them like alert webhooks.

Exactly once per (watchlist, news_id, model_version): the notice id derives from that key (and
is unique, as is the key itself), existing notices are skipped and inserts do nothing on
conflict, so a re-delivered `news.enriched` record (or two workers racing on one after a
rebalance) never queues a second webhook. On Postgres a rate-limited watchlist's row is locked
(in watchlist id order, so no deadlock) while its recent notices are counted, so concurrent
workers cannot exceed the limit together.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import Connection, func, select

from alerts.outbox import enqueue_delivery
from alerts.receivers import Receiver
from alerts.watchlists.matcher import Hit
from alerts.watchlists.model import Watchlist
from alerts.watchlists.payloads import render_notice
from alerts.watchlists.policy import suppression, targets
from pipeline.db.insert import insert_for
from pipeline.db.models import WatchlistNotice, WatchlistRow
from schemas import AlertEvent

NOTICE_NAMESPACE = uuid.UUID("9e3c2f0a-6b1d-4c47-8f5e-2a7d1b9c4e60")


def article_notice_id(watchlist_id: int, news_id: str, model_version: str) -> str:
    return str(uuid.uuid5(NOTICE_NAMESPACE, f"article|{watchlist_id}|{news_id}|{model_version}"))


def alert_notice_id(watchlist_id: int, event: AlertEvent) -> str:
    key = f"alert|{watchlist_id}|{event.fingerprint}|{event.status}|{event.emitted_at.isoformat()}"
    return str(uuid.uuid5(NOTICE_NAMESPACE, key))


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice about to be decided: which watchlist, about what, and its rendered-to-be payload."""

    notice_id: str
    watchlist: Watchlist
    kind: Literal["article", "alert"]
    event_at: datetime
    hits: tuple[Hit, ...]
    payload: dict[str, Any]
    news_id: str | None = None
    model_version: str | None = None
    alert_fingerprint: str | None = None
    alert_status: str | None = None


@dataclass
class Recorded:
    queued: list[str] = field(default_factory=list)
    """Notice ids queued to the outbox in this call."""
    deliveries: int = 0
    duplicates: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)


def _existing(conn: Connection, notice_ids: Sequence[str]) -> set[str]:
    n = WatchlistNotice
    return set(conn.scalars(select(n.notice_id).where(n.notice_id.in_(list(notice_ids)))))


def _queued_since(conn: Connection, watchlist_id: int, since: datetime) -> int:
    n = WatchlistNotice
    query = select(func.count()).where(n.watchlist_id == watchlist_id, n.status == "queued", n.created_at > since)
    return int(conn.scalar(query) or 0)


def _insert(conn: Connection, draft: NoticeDraft, status: str, reason: str | None, now: datetime) -> bool:
    values = {
        "notice_id": draft.notice_id,
        "watchlist_id": draft.watchlist.id,
        "kind": draft.kind,
        "news_id": draft.news_id,
        "model_version": draft.model_version,
        "alert_fingerprint": draft.alert_fingerprint,
        "alert_status": draft.alert_status,
        "status": status,
        "reason": reason,
        "hits": [h.as_dict() for h in draft.hits],
        "event_at": draft.event_at,
        "created_at": now,
    }
    insert = insert_for(conn, WatchlistNotice.__table__).values(values).on_conflict_do_nothing()
    return conn.execute(insert.returning(WatchlistNotice.id)).first() is not None


def record_notices(
    conn: Connection, drafts: Sequence[NoticeDraft], receivers: Mapping[str, Receiver], *, now: datetime
) -> Recorded:
    """Decide and store each draft (suppressed, or queued with its deliveries); see the module doc."""
    out = Recorded()
    if not drafts:
        return out
    existing = _existing(conn, [d.notice_id for d in drafts])
    for draft in sorted(drafts, key=lambda d: d.watchlist.id):
        if draft.notice_id in existing:
            out.duplicates += 1
            continue
        w = draft.watchlist
        if w.rate_limit is not None and conn.dialect.name == "postgresql":
            conn.execute(select(WatchlistRow.id).where(WatchlistRow.id == w.id).with_for_update())
        sends = targets(w, receivers)
        since = now - w.rate_limit.per if w.rate_limit is not None else now
        reason = suppression(w, now, has_receiver=bool(sends), queued_recently=partial(_queued_since, conn, w.id, since))
        if not _insert(conn, draft, "suppressed" if reason else "queued", reason, now):
            out.duplicates += 1  # another worker stored it since `_existing` looked
            continue
        if reason is not None:
            out.suppressed[reason] += 1
            continue
        for receiver in sends:
            enqueue_delivery(
                conn, event_id=draft.notice_id, receiver=receiver, payload=draft.payload, now=now, renderer=render_notice
            )
        out.queued.append(draft.notice_id)
        out.deliveries += len(sends)
    return out
