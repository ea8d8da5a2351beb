"""One evaluation tick at a given event time `now`: stats -> decisions -> states -> events.

The tick is deterministic given (rules, database contents, model version, now, prior states):
event ids are derived from (fingerprint, reason, now) and `emitted_at` is `now`. So the live
worker (now = the wall clock, state in Postgres) and a backtest (now = a sequence of event times
at the live cadence, `InMemoryStateStore`) produce the same alerts from the same history.

Postgres store: states, `alert_events` and outbox rows (one per event and receiver, body rendered
and ready to sign) are written in one transaction; after the commit, every stored event not yet
published (this tick's, and any a failed publish left behind) goes to Kafka (`publish`) and is
marked `published_at`: at least once, in order.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from alerts.evaluate import Decision, evaluate
from alerts.lifecycle import AlertState, Reason, Status, advance, needs_notify, record_notification
from alerts.payloads import build_payload, fetch_details, render_for
from alerts.receivers import Receiver
from alerts.rules import AnyRule, RulesConfig
from alerts.silences import Silence, active_silences, is_silenced
from alerts.stats import GroupKey, RuleStats, StatsReader, StatsSpec, floor_time, latest_model_version
from pipeline.db.models import AlertEvent as AlertEventRow
from pipeline.db.models import AlertState as AlertStateRow
from pipeline.db.models import WebhookDelivery
from schemas import AlertEvent, AlertWindow, utc_now

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("5b0f7c1e-2f4a-4f0e-9d59-4c1a8e6b7a10")

Clock = Callable[[], datetime]
Publisher = Callable[[Sequence[AlertEvent]], None]
RulesSource = Callable[[], RulesConfig]


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """An AlertEvent and what delivering it needs."""

    event_id: str
    event: AlertEvent
    reason: Reason
    kind: str
    receivers: tuple[str, ...]
    model_version: str


@dataclass(frozen=True, slots=True)
class TickResult:
    now: datetime
    model_version: str | None
    decisions: tuple[Decision, ...] = ()
    events: tuple[EmittedEvent, ...] = ()
    silenced: tuple[str, ...] = ()
    """Fingerprints whose notification a silence muted in this tick."""

    @property
    def firing(self) -> list[EmittedEvent]:
        return [e for e in self.events if e.event.status == "firing"]

    @property
    def resolved(self) -> list[EmittedEvent]:
        return [e for e in self.events if e.event.status == "resolved"]


class StateStore(Protocol):
    """Where alert states (and emitted events) live between ticks."""

    def load(self) -> dict[str, AlertState]: ...

    def save(self, states: Sequence[AlertState], events: Sequence[EmittedEvent]) -> None: ...


@dataclass
class InMemoryStateStore:
    """States and events in memory: for backtests and tests."""

    states: dict[str, AlertState] = field(default_factory=dict)
    events: list[EmittedEvent] = field(default_factory=list)

    def load(self) -> dict[str, AlertState]:
        return dict(self.states)

    def save(self, states: Sequence[AlertState], events: Sequence[EmittedEvent]) -> None:
        self.states.update({s.fingerprint: s for s in states})
        self.events.extend(events)


class PostgresStateStore:
    """States in `alert_states`; events in `alert_events` plus outbox rows, in one transaction.

    Works on SQLite too (the embedded default). `clock` stamps outbox rows (wall time: the
    dispatcher's schedule), `backtest=True` marks events as replays and writes no outbox rows.
    """

    def __init__(
        self,
        engine: Engine,
        receivers: Mapping[str, Receiver],
        *,
        public_url: str = "http://localhost:8080",
        clock: Clock = utc_now,
        backtest: bool = False,
    ) -> None:
        self.engine = engine
        self.receivers = dict(receivers)
        self.public_url = public_url
        self.clock = clock
        self.backtest = backtest

    def load(self) -> dict[str, AlertState]:
        """The pending and firing states. Inactive and resolved ones are left out: `advance` from
        them equals `advance` from no state, so the table may grow without slowing the tick."""
        table = AlertStateRow.__table__
        query = select(table).where(table.c.status.in_([Status.PENDING.value, Status.FIRING.value]))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {r["fingerprint"]: _state_from_row(r) for r in rows}

    def save(self, states: Sequence[AlertState], events: Sequence[EmittedEvent]) -> None:
        with self.engine.begin() as conn:
            if states:
                _upsert_states(conn, states)
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for emitted in events:
                insert = dialect.insert(AlertEventRow.__table__).values(_event_row(emitted, self.backtest))
                new = conn.execute(insert.on_conflict_do_nothing().returning(AlertEventRow.id)).first()
                if new is None:
                    continue  # the same tick evaluated again (a replay): already stored and queued
                if not self.backtest:
                    self._enqueue(conn, emitted)

    def unpublished(self, limit: int = 1000) -> list[tuple[str, AlertEvent]]:
        """Stored live events not yet published to Kafka, oldest first."""
        table = AlertEventRow.__table__
        query = (
            select(table)
            .where(table.c.published_at.is_(None), table.c.backtest.is_(False))
            .order_by(table.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r["event_id"], _event_from_row(r)) for r in conn.execute(query).mappings()]

    def mark_published(self, event_ids: Sequence[str]) -> None:
        table = AlertEventRow.__table__
        with self.engine.begin() as conn:
            conn.execute(
                table.update().where(table.c.event_id.in_(list(event_ids))).values(published_at=self.clock())
            )

    def _enqueue(self, conn: Connection, emitted: EmittedEvent) -> None:
        targets = [self.receivers[n] for n in emitted.receivers if n in self.receivers]
        if unknown := sorted(set(emitted.receivers) - set(self.receivers)):
            log.warning("rule %s names unknown receivers %s: not sent there", emitted.event.rule, unknown)
        if not targets:
            return
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
            public_url=self.public_url,
            model_version=emitted.model_version,
        )
        now = self.clock()
        for receiver in targets:
            enqueue_delivery(conn, event_id=emitted.event_id, receiver=receiver, payload=payload, now=now)


def enqueue_delivery(
    conn: Connection, *, event_id: str, receiver: Receiver, payload: dict[str, Any], now: datetime
) -> None:
    """Add one pending webhook to the outbox (in the caller's transaction), rendered for `receiver`."""
    conn.execute(
        WebhookDelivery.__table__.insert().values(
            webhook_id=webhook_id(event_id, receiver.name),
            event_id=event_id,
            receiver=receiver.name,
            url=receiver.url,
            payload=render_for(receiver.format, payload),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def webhook_id(event_id: str, receiver: str) -> str:
    """The `webhook-id` of one event to one receiver: stable, the same on every retry."""
    return "msg_" + uuid.uuid5(EVENT_NAMESPACE, f"{event_id}|{receiver}").hex


def event_id_for(fingerprint: str, reason: Reason, now: datetime) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{fingerprint}|{reason.value}|{now.isoformat()}"))


class AlertEngine:
    """Evaluates every rule at `now` and moves alert states; see the module docstring."""

    def __init__(
        self,
        db: Engine,
        rules: RulesSource | RulesConfig,
        store: StateStore,
        *,
        receivers: Sequence[str] = (),
        model_version: str | None = None,
        use_silences: bool = True,
        publish: Publisher | None = None,
    ) -> None:
        self.db = db
        self._rules: RulesSource = (lambda: rules) if isinstance(rules, RulesConfig) else rules
        self.store = store
        self.receivers = tuple(receivers)
        self.model_version = model_version
        self.use_silences = use_silences
        self.publish = publish
        self.stats = StatsReader()

    def tick(self, now: datetime) -> TickResult:
        if now.tzinfo is None:
            raise ValueError("[ALR040] evaluate at an aware datetime (event time, UTC)")
        now = now.astimezone(UTC)
        config = self._rules()
        rules: dict[str, AnyRule] = {r.name: r for r in config.rules}
        with self.db.connect() as conn:
            version = self.model_version or latest_model_version(conn)
            if version is None:
                return TickResult(now=now, model_version=None)
            stats = self.stats.read(conn, rules, version, now)
            silences = active_silences(conn, now) if self.use_silences else []
        states = self.store.load()
        result = plan_tick(rules, stats, states, silences, now, version, self.receivers)
        self.store.save(result.states, result.events)
        if self.publish is not None:
            self._publish(result.events)
        return TickResult(
            now=now,
            model_version=version,
            decisions=result.decisions,
            events=result.events,
            silenced=result.silenced,
        )

    def _publish(self, events: Sequence[EmittedEvent]) -> None:
        assert self.publish is not None
        unpublished = getattr(self.store, "unpublished", None)
        try:
            if unpublished is None:  # a store without publication marks: publish what was emitted
                if events:
                    self.publish([e.event for e in events])
                return
            pending: list[tuple[str, AlertEvent]] = unpublished()
            if pending:
                self.publish([event for _, event in pending])
                self.store.mark_published([event_id for event_id, _ in pending])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - stored events are published again after the next tick
            log.exception("publishing alert events failed; will retry after the next tick")


def tick_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The evaluation instants in [start, end] at cadence `every`, aligned to multiples of `every`
    since the Unix epoch: the instants the live worker evaluates at (it floors its clock the same
    way), so a backtest over history ticks exactly when the live run did.
    """
    first = floor_time(start, every)
    if first < start:
        first += every
    out = []
    while first <= end:
        out.append(first)
        first += every
    return out


def replay(engine: AlertEngine, start: datetime, end: datetime, every: timedelta) -> list[TickResult]:
    """Run `engine` at every `tick_times(start, end, every)`; e.g. with an `InMemoryStateStore`
    and `use_silences=False` for a backtest."""
    return [engine.tick(now) for now in tick_times(start, end, every)]


@dataclass(frozen=True, slots=True)
class TickPlan:
    decisions: tuple[Decision, ...]
    states: tuple[AlertState, ...]
    events: tuple[EmittedEvent, ...]
    silenced: tuple[str, ...]


def plan_tick(
    rules: Mapping[str, AnyRule],
    stats: Mapping[str, RuleStats],
    states: Mapping[str, AlertState],
    silences: Sequence[Silence],
    now: datetime,
    model_version: str,
    all_receivers: Sequence[str] = (),
) -> TickPlan:
    """The pure core of a tick: decisions, next states and events from stats and prior states."""
    by_rule: dict[str, dict[GroupKey, AlertState]] = {}
    for state in states.values():
        by_rule.setdefault(state.rule, {})[state.labels] = state
    decisions: list[Decision] = []
    new_states: list[AlertState] = []
    events: list[EmittedEvent] = []
    silenced: list[str] = []
    for name in sorted(rules):
        rule = rules[name]
        spec = StatsSpec.of(rule)
        rule_stats = stats.get(name) or RuleStats(spec, now, {}, {})
        known = by_rule.get(name, {})
        groups = {k for k in rule_stats.groups if rule.covers(dict(k).get("topic", ""))}
        groups |= {k for k, s in known.items() if s.status in (Status.PENDING, Status.FIRING)}
        for labels in sorted(groups):
            covered = rule.covers(dict(labels).get("topic", ""))
            window_stats = (rule_stats if covered else RuleStats(spec, now, {}, {})).get(labels)
            decision = evaluate(rule, window_stats, now)
            decisions.append(decision)
            before = known.get(labels)
            state = advance(before, decision)
            reason = needs_notify(state, decision, now)
            alert_labels = {**dict(labels), **rule.labels}
            match_labels = {**alert_labels, "rule": rule.name, "severity": rule.severity}
            if reason in (Reason.FIRST_FIRING, Reason.REPEAT) and is_silenced(silences, match_labels, now):
                silenced.append(state.fingerprint)
                reason = Reason.NONE
            if reason is not Reason.NONE:
                events.append(
                    _emit(rule, decision, state, reason, now, model_version, all_receivers, alert_labels)
                )
                state = record_notification(state, reason, now)
            if before is not None or state.status is not Status.INACTIVE:
                new_states.append(state)
    return TickPlan(tuple(decisions), tuple(new_states), tuple(events), tuple(silenced))


def _emit(
    rule: AnyRule,
    decision: Decision,
    state: AlertState,
    reason: Reason,
    now: datetime,
    model_version: str,
    all_receivers: Sequence[str],
    labels: Mapping[str, str],
) -> EmittedEvent:
    resolved = reason is Reason.RESOLVED
    event = AlertEvent(
        fingerprint=state.fingerprint,
        rule=rule.name,
        topic=state.topic,
        status="resolved" if resolved else "firing",
        window=AlertWindow(start=decision.window_start, end=decision.window_end),
        figures={k: float(v) for k, v in decision.figures.items()},
        labels=dict(labels),
        severity=rule.severity,
        started_at=state.active_since or now,
        ended_at=state.resolved_at if resolved else None,
        emitted_at=now,
    )
    return EmittedEvent(
        event_id=event_id_for(state.fingerprint, reason, now),
        event=event,
        reason=reason,
        kind=rule.kind,
        receivers=tuple(rule.receivers) or tuple(all_receivers),
        model_version=model_version,
    )


# --- rows <-> states ------------------------------------------------------------------------------


def _state_from_row(r: Mapping[str, Any]) -> AlertState:
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
    )


def _state_row(s: AlertState) -> dict[str, Any]:
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
    }


def _upsert_states(conn: Connection, states: Sequence[AlertState]) -> None:
    table = AlertStateRow.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = [_state_row(s) for s in states]
    for start in range(0, len(rows), 500):
        statement = dialect.insert(table).values(rows[start : start + 500])
        updates = {c: statement.excluded[c] for c in rows[0] if c != "fingerprint"}
        conn.execute(statement.on_conflict_do_update(index_elements=["fingerprint"], set_=updates))


def _event_from_row(r: Mapping[str, Any]) -> AlertEvent:
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
    )


def _event_row(emitted: EmittedEvent, backtest: bool) -> dict[str, Any]:
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
    }
