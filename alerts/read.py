"""Read queries of the HTTP API over alert events, their evidence, alert states and deliveries.

Events are listed newest first by (`emitted_at`, id) with keyset cursors (`pipeline.read.cursor`);
one event comes with the articles recorded when it fired (`alerts.evidence`; a resolution shows
those of the firing it ends), its deliveries and the other events of the same alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Select, func, select

from alerts.silences import Silence
from pipeline.db.mentions import first_mentions
from pipeline.db.models import (
    AlertEventRow,
    AlertEvidence,
    AlertStateRow,
    Enrichment,
    Entity,
    WebhookDelivery,
)
from pipeline.read.articles import articles_by_enrichment, articles_towards
from pipeline.read.cursor import Keyset
from pipeline.read.models import ArticleOut, TowardsOut

MAX_EVIDENCE = 200
"""Evidence articles listed with an event (most negative first); `evidence_count` has them all."""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AlertEventOut(_Out):
    event_id: str
    fingerprint: str
    rule: str
    kind: str | None = Field(description="negative_spike, volume_spike or sentiment_drop")
    topic: str
    status: str = Field(description="this event: firing or resolved")
    alert_status: str | None = Field(description="the alert now: inactive, pending, firing or resolved")
    severity: str
    labels: dict[str, str]
    model_version: str | None
    window_start: datetime
    window_end: datetime
    started_at: datetime
    ended_at: datetime | None
    emitted_at: datetime
    figures: dict[str, float]
    backtest: bool


class DeliveryOut(_Out):
    id: int
    webhook_id: str
    event_id: str
    receiver: str
    host: str = Field(description="the receiver URL's host (the full URL may hold a secret)")
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


class AlertStateOut(_Out):
    fingerprint: str
    rule: str
    topic: str
    status: str
    labels: dict[str, str]
    active_since: datetime | None
    severity: str | None


@dataclass(frozen=True, slots=True)
class EventFilters:
    status: str | None = None
    topic: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    fingerprint: str | None = None
    firing_now: bool = False
    include_backtest: bool = False


def list_events(
    conn: Connection, filters: EventFilters, *, after: Keyset | None = None, limit: int = 50
) -> tuple[list[AlertEventOut], Keyset | None]:
    """One page of events, newest first, and the key to continue after (None: last page)."""
    ev, st = AlertEventRow.__table__, AlertStateRow.__table__
    query = _select_events()
    if filters.status is not None:
        query = query.where(ev.c.status == filters.status)
    if filters.topic is not None:
        query = query.where(ev.c.topic == filters.topic)
    if filters.start is not None:
        query = query.where(ev.c.emitted_at >= filters.start)
    if filters.end is not None:
        query = query.where(ev.c.emitted_at < filters.end)
    if filters.fingerprint is not None:
        query = query.where(ev.c.fingerprint == filters.fingerprint)
    if filters.firing_now:
        query = query.where(st.c.status == "firing")
    if not filters.include_backtest:
        query = query.where(ev.c.backtest.is_(False))
    if after is not None:
        query = query.where(after.before(ev.c.emitted_at, ev.c.id))
    rows = conn.execute(query.order_by(ev.c.emitted_at.desc(), ev.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return [_event(r) for r in rows], (Keyset(last.emitted_at, last.id) if last is not None else None)


def find_event(conn: Connection, key: str) -> AlertEventOut | None:
    """The event with id `key`, else the latest event of the alert with fingerprint `key`
    (its latest firing, when it has one)."""
    ev = AlertEventRow.__table__
    row = conn.execute(_select_events().where(ev.c.event_id == key)).first()
    if row is None:
        row = conn.execute(
            _select_events()
            .where(ev.c.fingerprint == key)
            .order_by((ev.c.status == "firing").desc(), ev.c.emitted_at.desc(), ev.c.id.desc())
            .limit(1)
        ).first()
    return _event(row) if row is not None else None


def evidence(conn: Connection, event: AlertEventOut) -> tuple[str | None, int, list[ArticleOut]]:
    """(the firing event whose evidence applies, how many articles it recorded, the first
    `MAX_EVIDENCE` of them, most negative first)."""
    source = event.event_id if event.status == "firing" else _firing_before(conn, event)
    if source is None:
        return None, 0, []
    ae, e = AlertEvidence.__table__, Enrichment.__table__
    count = int(conn.scalar(select(func.count()).where(ae.c.event_id == source)) or 0)
    ticker = event.labels.get("ticker")
    if ticker is not None:
        return source, count, ticker_evidence(conn, source, str(ticker))
    ids = conn.scalars(
        select(ae.c.enrichment_id)
        .join(e, e.c.id == ae.c.enrichment_id)
        .where(ae.c.event_id == source)
        .order_by(e.c.p_negative.desc(), e.c.published_at.desc(), e.c.id.desc())
        .limit(MAX_EVIDENCE)
    ).all()
    return source, count, articles_by_enrichment(conn, list(ids))


def ticker_evidence(conn: Connection, source: str, ticker: str) -> list[ArticleOut]:
    """A per-ticker alert's articles with the sentiment towards `ticker` that the rule counted
    (`pipeline.db.mentions`), most negative towards it first."""
    ae, e, en = AlertEvidence.__table__, Enrichment.__table__, Entity.__table__
    recorded = select(ae.c.enrichment_id).where(ae.c.event_id == source)
    m = first_mentions(
        e,
        en,
        (en.c.ticker,),
        (
            e.c.id.label("enrichment_id"),
            e.c.published_at,
            en.c.sentiment.label("own"),
            en.c.sentiment_source.label("source"),
        ),
        (e.c.id.in_(recorded), en.c.ticker == ticker),
    ).c
    rows = conn.execute(
        select(m.enrichment_id, m.sentiment, m.sentiment_score, m.own, m.source)
        .order_by((m.sentiment == "negative").desc(), m.sentiment_score, m.published_at.desc(), m.enrichment_id.desc())
        .limit(MAX_EVIDENCE)
    ).all()
    towards = {
        r.enrichment_id: TowardsOut(
            ticker=ticker,
            sentiment=r.sentiment,
            sentiment_score=float(r.sentiment_score),
            own=r.own is not None,
            source=("headline" if r.own is None else r.source or "entity"),
        )
        for r in rows
    }
    return articles_towards(conn, towards)


def events_of_alert(conn: Connection, fingerprint: str, limit: int = 50) -> list[AlertEventOut]:
    """The alert's events, newest first."""
    return list_events(conn, EventFilters(fingerprint=fingerprint, include_backtest=True), limit=limit)[0]


def deliveries(
    conn: Connection,
    *,
    event_ids: Sequence[str] | None = None,
    status: str | None = None,
    receiver: str | None = None,
    after: Keyset | None = None,
    limit: int = 50,
) -> tuple[list[DeliveryOut], Keyset | None]:
    """Deliveries newest first (by creation), and the key to continue after (None: last page)."""
    d = WebhookDelivery.__table__
    query = select(d)
    if event_ids is not None:
        query = query.where(d.c.event_id.in_(list(event_ids)))
    if status is not None:
        query = query.where(d.c.status == status)
    if receiver is not None:
        query = query.where(d.c.receiver == receiver)
    if after is not None:
        query = query.where(after.before(d.c.created_at, d.c.id))
    rows = conn.execute(query.order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit + 1)).mappings().all()
    out = [
        DeliveryOut(
            id=r["id"],
            webhook_id=r["webhook_id"],
            event_id=r["event_id"],
            receiver=r["receiver"],
            host=urlsplit(r["url"]).hostname or "",
            status=r["status"],
            attempts=r["attempts"],
            last_status_code=r["last_status_code"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            next_attempt_at=r["next_attempt_at"],
            delivered_at=r["delivered_at"],
        )
        for r in rows[:limit]
    ]
    return out, (Keyset(out[-1].created_at, out[-1].id) if len(rows) > limit else None)


def active_states(conn: Connection, topic: str | None = None) -> list[AlertStateOut]:
    """Alerts pending or firing now (live evaluation), firing first."""
    st = AlertStateRow.__table__
    query = select(st).where(st.c.status.in_(["pending", "firing"]))
    if topic is not None:
        query = query.where(st.c.topic == topic)
    rows = conn.execute(query.order_by(st.c.status, st.c.topic, st.c.rule)).mappings().all()
    return [
        AlertStateOut(
            fingerprint=r["fingerprint"],
            rule=r["rule"],
            topic=r["topic"],
            status=r["status"],
            labels={str(k): str(v) for k, v in (r["labels"] or {}).items()},
            active_since=r["active_since"],
            severity=r["severity"],
        )
        for r in rows
    ]


def _select_events() -> Select[Any]:
    ev, st = AlertEventRow.__table__, AlertStateRow.__table__
    return select(ev, st.c.rule_kind, st.c.status.label("alert_status")).select_from(
        ev.outerjoin(st, st.c.fingerprint == ev.c.fingerprint)
    )


def _firing_before(conn: Connection, event: AlertEventOut) -> str | None:
    ev = AlertEventRow.__table__
    return conn.scalar(
        select(ev.c.event_id)
        .where(ev.c.fingerprint == event.fingerprint, ev.c.status == "firing", ev.c.emitted_at <= event.emitted_at)
        .order_by(ev.c.emitted_at.desc(), ev.c.id.desc())
        .limit(1)
    )


def _event(r: Any) -> AlertEventOut:
    m = r._mapping
    return AlertEventOut(
        event_id=m["event_id"],
        fingerprint=m["fingerprint"],
        rule=m["rule"],
        kind=m["rule_kind"],
        topic=m["topic"],
        status=m["status"],
        alert_status=m["alert_status"],
        severity=m["severity"],
        labels={str(k): str(v) for k, v in (m["labels"] or {}).items()},
        model_version=m["model_version"],
        window_start=m["window_start"],
        window_end=m["window_end"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        emitted_at=m["emitted_at"],
        figures={str(k): float(v) for k, v in (m["figures"] or {}).items()},
        backtest=bool(m["backtest"]),
    )


class SilenceOut(_Out):
    id: int
    matchers: dict[str, str] = Field(description="label = value; every one must equal the alert's label")
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    active: bool


def silence_out(s: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        matchers=dict(s.matchers),
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        comment=s.comment,
        created_by=s.created_by,
        active=s.active_at(now),
    )


def alert_labels(event: AlertEventOut) -> dict[str, str]:
    """The labels silences match an alert on (its labels, rule and severity)."""
    return {**event.labels, "rule": event.rule, "severity": event.severity}
