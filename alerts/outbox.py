"""The transactional outbox: an emitted event becomes an `alert_events` row plus one
`webhook_deliveries` row per receiver, rendered and ready to sign, in the caller's transaction.

Live ticks and backtest deliveries write through the same two functions (`store_event`,
`enqueue_event`); the dispatcher (`alerts.dispatcher`) sends what is pending.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from alerts.evidence import record_evidence
from alerts.payloads import build_payload, fetch_details, render_for
from alerts.planner import EVENT_NAMESPACE, EmittedEvent
from alerts.receivers import Receiver
from pipeline.db.insert import insert_for
from pipeline.db.models import AlertEventRow, WebhookDelivery

log = logging.getLogger(__name__)


def webhook_id(event_id: str, receiver: str) -> str:
    """The `webhook-id` of one event to one receiver: stable, the same on every retry."""
    return "msg_" + uuid.uuid5(EVENT_NAMESPACE, f"{event_id}|{receiver}").hex


def event_row(emitted: EmittedEvent, *, backtest: bool = False) -> dict[str, Any]:
    e = emitted.event
    return {
        "event_id": emitted.event_id,
        "fingerprint": e.fingerprint,
        "rule": e.rule,
        "topic": e.topic,
        "status": e.status,
        "window_start": e.window.start,
        "window_end": e.window.end,
        "figures": dict(e.figures),
        "severity": e.severity,
        "labels": dict(e.labels),
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "emitted_at": e.emitted_at,
        "backtest": backtest,
        "model_version": emitted.model_version or None,
        "evaluation": emitted.evaluation,
    }


def store_event(conn: Connection, emitted: EmittedEvent, *, backtest: bool = False) -> bool:
    """Insert the event's row; False when that event id is already stored (the same tick again)."""
    insert = insert_for(conn, AlertEventRow.__table__).values(event_row(emitted, backtest=backtest))
    stored = conn.execute(insert.on_conflict_do_nothing().returning(AlertEventRow.id)).first() is not None
    if stored:
        record_evidence(conn, emitted)
    return stored


def enqueue_event(
    conn: Connection,
    emitted: EmittedEvent,
    receivers: Mapping[str, Receiver],
    *,
    public_url: str,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """One pending webhook per receiver the event names (that is configured); returns how many.
    `extra` is merged into the payload (e.g. `{"backtest": true}`)."""
    targets = [receivers[n] for n in emitted.receivers if n in receivers]
    if unknown := sorted(set(emitted.receivers) - set(receivers)):
        log.warning("rule %s names unknown receivers %s: not sent there", emitted.event.rule, unknown)
    if not targets:
        return 0
    event = emitted.event
    headlines, entities = fetch_details(
        conn,
        model_version=emitted.model_version,
        topic=event.topic,
        start=event.window.start,
        end=event.window.end,
        ticker=event.labels.get("ticker"),
    )
    payload = build_payload(
        event,
        event_id=emitted.event_id,
        kind=emitted.kind,
        reason=emitted.reason.value,
        headlines=headlines,
        entities=entities,
        public_url=public_url,
        model_version=emitted.model_version,
    )
    payload["evaluation"] = emitted.evaluation
    payload.update(extra or {})
    for receiver in targets:
        enqueue_delivery(conn, event_id=emitted.event_id, receiver=receiver, payload=payload, now=now)
    return len(targets)


def enqueue_delivery(
    conn: Connection,
    *,
    event_id: str,
    receiver: Receiver,
    payload: dict[str, Any],
    now: datetime,
    renderer: Callable[[str, Mapping[str, Any]], str] = render_for,
) -> None:
    """Add one pending webhook to the outbox (in the caller's transaction), rendered for `receiver`
    by `renderer(format, payload)` (alert bodies by default; watchlist notices pass theirs)."""
    conn.execute(
        WebhookDelivery.__table__.insert().values(
            webhook_id=webhook_id(event_id, receiver.name),
            event_id=event_id,
            receiver=receiver.name,
            url=receiver.url,
            payload=renderer(receiver.format, payload),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
