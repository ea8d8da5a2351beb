"""The pure core of an evaluation tick, shared by the live worker and the backtest.

`plan_group(rule, stats, state, ...)` is one (rule, group) at one instant: evaluate -> advance the
lifecycle -> decide whether to notify (silences may mute a firing) -> emit an event -> record the
notification. `plan_tick(rules, stats, states, ...)` runs it over every group with an article in
the window or a pending/firing state, and resolves orphaned firings: states whose rule is gone
(deleted or renamed) or whose model version is not the one evaluated any more.

Deterministic: event ids derive from (fingerprint, reason, now) and `emitted_at` is `now`, so the
same inputs give the same events live, after a restart and in a backtest.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from alerts.evaluate import Decision, evaluate
from alerts.lifecycle import AlertState, Reason, Status, advance, needs_notify, orphan, record_notification
from alerts.rules import AnyRule
from alerts.silences import Silence, is_silenced
from alerts.stats import GroupKey, RuleStats, StatsSpec, WindowStats, floor_time
from schemas import AlertEvent, AlertWindow

EVENT_NAMESPACE = uuid.UUID("5b0f7c1e-2f4a-4f0e-9d59-4c1a8e6b7a10")

Evaluation = Literal["early", "final"]
"""Which evaluation of its tick emitted an event (`alerts.early`): a backtest's are all final."""
FINAL: Final = "final"
EARLY: Final = "early"


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """An `AlertEvent` (the contract) and what delivering it needs."""

    event_id: str
    event: AlertEvent
    reason: Reason
    kind: str
    receivers: tuple[str, ...]
    model_version: str
    evaluation: Evaluation = FINAL


@dataclass(frozen=True, slots=True)
class GroupPlan:
    decision: Decision | None
    """None for an orphaned state (no rule to evaluate)."""
    state: AlertState | None
    """The next state; None when there is nothing to remember (inactive, no prior state)."""
    event: EmittedEvent | None = None
    silenced: bool = False


@dataclass(frozen=True, slots=True)
class TickPlan:
    decisions: tuple[Decision, ...]
    states: tuple[AlertState, ...]
    events: tuple[EmittedEvent, ...]
    silenced: tuple[str, ...]
    """Fingerprints whose notification a silence muted in this tick."""


def event_id_for(fingerprint: str, reason: Reason, now: datetime) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{fingerprint}|{reason.value}|{now.isoformat()}"))


def tick_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The evaluation instants in [start, end] at cadence `every`, aligned to multiples of `every`
    since the Unix epoch: the instants the live worker evaluates at."""
    first = floor_time(start, every)
    if first < start:
        first += every
    out = []
    while first <= end:
        out.append(first)
        first += every
    return out


def plan_group(
    rule: AnyRule,
    stats: WindowStats,
    before: AlertState | None,
    silences: Sequence[Silence],
    now: datetime,
    model_version: str,
    all_receivers: Sequence[str] = (),
) -> GroupPlan:
    """One rule on one group at `now`; see the module docstring."""
    decision = evaluate(rule, stats, now)
    if before is None and not decision.active:
        return GroupPlan(decision, None)
    state = advance(before, decision, model_version)
    reason = needs_notify(state, decision, now)
    labels = {**dict(stats.labels), **rule.labels}
    muted = False
    if reason in (Reason.FIRST_FIRING, Reason.REPEAT) and is_silenced(
        silences, {**labels, "rule": rule.name, "severity": rule.severity}, now
    ):
        muted, reason = True, Reason.NONE
    event = None
    if reason is not Reason.NONE:
        window = AlertWindow(start=decision.window_start, end=decision.window_end)
        event = emit_event(state, reason, now, window, decision.figures, all_receivers)
        state = record_notification(state, reason, now)
    return GroupPlan(decision, state, event, muted)


def plan_orphan(state: AlertState, now: datetime, all_receivers: Sequence[str] = ()) -> GroupPlan:
    """Resolve a pending/firing state nobody evaluates any more (see `lifecycle.orphan`)."""
    resolved, reason = orphan(state, now)
    if reason is Reason.NONE:
        return GroupPlan(None, resolved)
    window = AlertWindow(start=state.last_evaluated_at or now, end=now)
    event = emit_event(resolved, reason, now, window, state.last_figures, all_receivers)
    return GroupPlan(None, record_notification(resolved, Reason.RESOLVED, now), event)


def plan_tick(
    rules: Mapping[str, AnyRule],
    stats: Mapping[str, RuleStats],
    states: Mapping[str, AlertState],
    silences: Sequence[Silence],
    now: datetime,
    model_version: str,
    all_receivers: Sequence[str] = (),
) -> TickPlan:
    """Decisions, next states and events from stats and prior states (no I/O)."""
    by_rule: dict[str, dict[GroupKey, AlertState]] = {}
    orphans: list[AlertState] = []
    for state in states.values():
        live = state.status in (Status.PENDING, Status.FIRING)
        if state.rule not in rules or (state.model_version and state.model_version != model_version):
            if live:
                orphans.append(state)
            continue
        by_rule.setdefault(state.rule, {})[state.labels] = state
    plans: list[GroupPlan] = []
    for name in sorted(rules):
        rule = rules[name]
        rule_stats = stats.get(name) or RuleStats(StatsSpec.of(rule), now, {}, {})
        known = by_rule.get(name, {})
        groups = {k for k in rule_stats.groups if rule.covers(dict(k).get("topic", ""))}
        groups |= {k for k, s in known.items() if s.status in (Status.PENDING, Status.FIRING)}
        for labels in sorted(groups):
            covered = rule.covers(dict(labels).get("topic", ""))
            window_stats = (rule_stats if covered else RuleStats(rule_stats.spec, now, {}, {})).get(labels)
            plans.append(plan_group(rule, window_stats, known.get(labels), silences, now, model_version, all_receivers))
    plans += [plan_orphan(s, now, all_receivers) for s in sorted(orphans, key=lambda s: s.fingerprint)]
    return TickPlan(
        decisions=tuple(p.decision for p in plans if p.decision is not None),
        states=tuple(p.state for p in plans if p.state is not None),
        events=tuple(p.event for p in plans if p.event is not None),
        silenced=tuple(p.state.fingerprint for p in plans if p.silenced and p.state is not None),
    )


def emit_event(
    state: AlertState,
    reason: Reason,
    now: datetime,
    window: AlertWindow,
    figures: Mapping[str, float],
    all_receivers: Sequence[str],
    evaluation: Evaluation = FINAL,
) -> EmittedEvent:
    """The event notifying `state` for `reason` at `now` (its id: `event_id_for`)."""
    resolved = reason in (Reason.RESOLVED, Reason.ORPHANED)
    event = AlertEvent(
        fingerprint=state.fingerprint,
        rule=state.rule,
        topic=state.topic,
        status="resolved" if resolved else "firing",
        window=window,
        figures={k: float(v) for k, v in figures.items()},
        labels={**dict(state.labels), **state.rule_labels},
        severity=state.severity,
        started_at=state.active_since or now,
        ended_at=state.resolved_at if resolved else None,
        emitted_at=now,
        model_version=state.model_version or None,
    )
    return EmittedEvent(
        event_id=event_id_for(state.fingerprint, reason, now),
        event=event,
        reason=reason,
        kind=state.rule_kind,
        receivers=state.receivers or tuple(all_receivers),
        model_version=state.model_version,
        evaluation=evaluation,
    )
