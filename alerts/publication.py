"""Alert events to Kafka (`alerts.events`) from the stored events: at least once, in order.

After each tick's transaction, every stored live event without `published_at` (this tick's, and
any that a failed publish left behind) is published and then marked; a failure is retried after
the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from pipeline.db.models import AlertEventRow
from schemas import AlertEvent, AlertWindow

log = logging.getLogger(__name__)

Publisher = Callable[[Sequence[AlertEvent]], None]


def event_from_row(r: Mapping[str, Any]) -> AlertEvent:
    return AlertEvent(
        fingerprint=r["fingerprint"],
        rule=r["rule"],
        topic=r["topic"],
        status=r["status"],
        window=AlertWindow(start=r["window_start"], end=r["window_end"]),
        figures={str(k): float(v) for k, v in (r["figures"] or {}).items()},
        labels={str(k): str(v) for k, v in (r["labels"] or {}).items()},
        severity=r["severity"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        emitted_at=r["emitted_at"],
        model_version=r["model_version"],
    )


def unpublished(engine: Engine, limit: int = 1000) -> list[tuple[str, AlertEvent]]:
    """Stored live events not yet published, oldest first."""
    table = AlertEventRow.__table__
    query = (
        select(table)
        .where(table.c.published_at.is_(None), table.c.backtest.is_(False))
        .order_by(table.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(r["event_id"], event_from_row(r)) for r in conn.execute(query).mappings()]


def mark_published(engine: Engine, event_ids: Sequence[str], now: datetime) -> None:
    table = AlertEventRow.__table__
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.event_id.in_(list(event_ids))).values(published_at=now))


def publish_pending(engine: Engine, publish: Publisher, now: datetime) -> int:
    """Publish the unpublished events; returns how many (0 after a failure, which is logged)."""
    try:
        pending = unpublished(engine)
        if pending:
            publish([event for _, event in pending])
            mark_published(engine, [event_id for event_id, _ in pending], now)
        return len(pending)
    except Exception:  # noqa: BLE001 - stored events are published again after the next tick
        log.exception("publishing alert events failed; will retry after the next tick")
        return 0
