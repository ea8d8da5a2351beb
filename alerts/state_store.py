"""Where alert states (and emitted events) live between ticks.

- `InMemoryStateStore`: for backtests, dry runs and tests.
- `SqlStateStore`: `alert_states`; events go to `alert_events` plus the outbox
  (`alerts.outbox`), and the live worker's progress (the last evaluated tick, `alert_progress`)
  moves, all in one transaction: a crash loses a whole tick or nothing, and the next start
  catches up from the stored tick. Works on SQLite too (the embedded default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import Connection, Engine, select

from alerts.lifecycle import AlertState, Status
from alerts.outbox import enqueue_event, store_event
from alerts.planner import EmittedEvent
from alerts.receivers import Receiver
from pipeline.db.insert import CHUNK_ROWS, chunked, insert_for
from pipeline.db.models import AlertProgress, AlertStateRow
from schemas import utc_now

LIVE: Final = "live"
"""The `alert_progress` row of the live worker."""


class StateStore(Protocol):
    def load(self) -> dict[str, AlertState]: ...

    def last_tick(self) -> datetime | None:
        """The last tick recorded by `save(..., tick=)` (None: never)."""
        ...

    def save(
        self, states: Sequence[AlertState], events: Sequence[EmittedEvent], *, tick: datetime | None = None
    ) -> None:
        """Store the tick's states and events; `tick` (when given) is recorded as evaluated."""
        ...


@dataclass
class InMemoryStateStore:
    states: dict[str, AlertState] = field(default_factory=dict)
    events: list[EmittedEvent] = field(default_factory=list)
    tick_at: datetime | None = None

    def load(self) -> dict[str, AlertState]:
        return dict(self.states)

    def last_tick(self) -> datetime | None:
        return self.tick_at

    def save(
        self, states: Sequence[AlertState], events: Sequence[EmittedEvent], *, tick: datetime | None = None
    ) -> None:
        self.states.update({s.fingerprint: s for s in states})
        self.events.extend(events)
        if tick is not None:
            self.tick_at = tick


class SqlStateStore:
    """States in `alert_states`; events, outbox rows and progress written with them.

    `clock` stamps outbox rows (wall time: the dispatcher's schedule).
    """

    def __init__(
        self,
        engine: Engine,
        receivers: Mapping[str, Receiver],
        *,
        public_url: str = "http://localhost:8080",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.receivers = dict(receivers)
        self.public_url = public_url
        self.clock = clock

    def load(self) -> dict[str, AlertState]:
        """The pending and firing states. Inactive and resolved ones are left out: `advance` from
        them equals `advance` from no state, so the table may grow without slowing the tick."""
        table = AlertStateRow.__table__
        query = select(table).where(table.c.status.in_([Status.PENDING.value, Status.FIRING.value]))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {r["fingerprint"]: state_from_row(r) for r in rows}

    def save(
        self, states: Sequence[AlertState], events: Sequence[EmittedEvent], *, tick: datetime | None = None
    ) -> None:
        with self.engine.begin() as conn:
            if states:
                upsert_states(conn, states)
            now = self.clock()
            for emitted in events:
                if store_event(conn, emitted):  # already stored: the same tick evaluated again
                    enqueue_event(conn, emitted, self.receivers, public_url=self.public_url, now=now)
            if tick is not None:
                save_progress(conn, LIVE, tick, now)

    def last_tick(self) -> datetime | None:
        return last_tick(self.engine, LIVE)


def last_tick(engine: Engine, name: str = LIVE) -> datetime | None:
    """The last tick the worker `name` evaluated (None: never)."""
    with engine.connect() as conn:
        return conn.scalar(select(AlertProgress.last_tick_at).where(AlertProgress.name == name))


def save_progress(conn: Connection, name: str, tick: datetime, now: datetime) -> None:
    statement = insert_for(conn, AlertProgress.__table__).values(name=name, last_tick_at=tick, updated_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"last_tick_at": statement.excluded.last_tick_at, "updated_at": now}
        )
    )


def state_from_row(r: Mapping[str, Any]) -> AlertState:
    labels = r["labels"] or {}
    return AlertState(
        fingerprint=r["fingerprint"],
        rule=r["rule"],
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        status=Status(r["status"]),
        pending_since=r["pending_since"],
        active_since=r["active_since"],
        last_active_at=r["last_active_at"],
        last_evaluated_at=r["last_evaluated_at"],
        last_notified_at=r["last_notified_at"],
        notified_status=Status(r["notified_status"]) if r["notified_status"] else None,
        resolved_at=r["resolved_at"],
        consecutive_hits=int(r["consecutive_hits"] or 0),
        last_figures=dict(r["last_figures"] or {}),
        model_version=r["model_version"] or "",
        rule_kind=r["rule_kind"] or "",
        severity=r["severity"] or "warning",
        receivers=tuple(r["receivers"] or ()),
        rule_labels={str(k): str(v) for k, v in (r["rule_labels"] or {}).items()},
    )


def state_row(s: AlertState) -> dict[str, Any]:
    return {
        "fingerprint": s.fingerprint,
        "rule": s.rule,
        "topic": s.topic,
        "labels": dict(s.labels),
        "status": s.status.value,
        "pending_since": s.pending_since,
        "active_since": s.active_since,
        "last_active_at": s.last_active_at,
        "last_evaluated_at": s.last_evaluated_at,
        "last_notified_at": s.last_notified_at,
        "notified_status": s.notified_status.value if s.notified_status else None,
        "resolved_at": s.resolved_at,
        "consecutive_hits": s.consecutive_hits,
        "last_figures": dict(s.last_figures),
        "model_version": s.model_version or None,
        "rule_kind": s.rule_kind or None,
        "severity": s.severity,
        "receivers": list(s.receivers),
        "rule_labels": dict(s.rule_labels),
    }


def upsert_states(conn: Connection, states: Sequence[AlertState]) -> None:
    table = AlertStateRow.__table__
    rows = [state_row(s) for s in states]
    for chunk in chunked(rows, CHUNK_ROWS):
        statement = insert_for(conn, table).values(list(chunk))
        updates = {c: statement.excluded[c] for c in rows[0] if c != "fingerprint"}
        conn.execute(statement.on_conflict_do_update(index_elements=["fingerprint"], set_=updates))
