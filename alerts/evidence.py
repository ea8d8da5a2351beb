"""Alert evidence: the articles that made a firing event's window, recorded when it fired.

`record_evidence(conn, emitted)` runs in the transaction that stores the event (the outbox's
`store_event`), so the evidence is exactly the set the rule counted at that instant: the
enrichments of the event's model version and topic (and ticker, for rules grouped by ticker) with
`published_at` in `[window.start, window.end)`. Articles stored later never join it, so what an
analyst reads behind an alert does not change when late articles arrive. Resolutions record
nothing (their page shows the evidence of the firing they end).
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, literal, select

from alerts.planner import EmittedEvent
from pipeline.db.models import AlertEvidence, Enrichment, Entity


def record_evidence(conn: Connection, emitted: EmittedEvent) -> int:
    """Link a firing event to the articles of its window (in the caller's transaction); returns
    how many were recorded (0 for a resolution)."""
    event = emitted.event
    if event.status != "firing":
        return 0
    e = Enrichment.__table__
    conditions = [
        e.c.model_version == emitted.model_version,
        e.c.topic == event.topic,
        e.c.published_at >= event.window.start,
        e.c.published_at < event.window.end,
    ]
    ticker = event.labels.get("ticker")
    if ticker is not None:
        tagged = select(Entity.enrichment_id).where(Entity.ticker == ticker)
        conditions.append(e.c.id.in_(tagged))
    rows = select(literal(emitted.event_id), e.c.id, e.c.news_id).where(*conditions)
    statement = insert(AlertEvidence).from_select(["event_id", "enrichment_id", "news_id"], rows)
    return int(conn.execute(statement).rowcount or 0)
