"""Alert lifecycle as pure functions: inactive -> pending -> firing -> resolved.

- `advance(state, decision, model_version)`: the next state after one evaluation (`for`,
  `keep_firing_for`).
- `needs_notify(state, decision, now)`: alertmanager's `needsUpdate`: whether the advanced
  state warrants a notification, and why (first firing, repeat elapsed, resolved, none).
- `record_notification(state, reason, now)`: remember what was sent (the notification log:
  `notified_status`, `last_notified_at`).
- `skip_unchanged(state, ticks, last)` and `next_deadline(state, rule, step)`: what the
  event-driven backtest needs to jump over ticks whose inputs did not change (see
  `alerts.backtest`): the state after `ticks` evaluations with the same decision, and the first
  tick at which the lifecycle itself moves (`for` reached, `keep_firing_for` over, repeat due).

A resolution is only sent for an activation whose firing was sent, and only once.
An alert's identity (`fingerprint`) is its rule, group labels and the model version evaluated.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.evaluate import Decision
from alerts.rules import AnyRule
from alerts.stats import EPOCH, GroupKey

__all__ = [
    "AlertState",
    "Reason",
    "Status",
    "advance",
    "fingerprint",
    "needs_notify",
    "next_deadline",
    "record_notification",
    "skip_unchanged",
]


def fingerprint(rule_name: str, labels: GroupKey | Mapping[str, str], model_version: str) -> str:
    """Stable identity of an alert: sha256 of the rule name, its group labels and the model
    version whose enrichments it evaluates (32 hex chars)."""
    items = sorted(labels.items()) if isinstance(labels, Mapping) else sorted(labels)
    blob = json.dumps(
        {"rule": rule_name, "labels": items, "model_version": model_version}, separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Status(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Reason(enum.StrEnum):
    NONE = "none"
    FIRST_FIRING = "first_firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    ORPHANED = "orphaned"
    """Resolved because its rule was removed or renamed, or the model version it evaluates is no
    longer the active one, while it was firing."""


@dataclass(frozen=True, slots=True)
class AlertState:
    """The memory of one alert between evaluations (a row of `alert_states`)."""

    fingerprint: str
    rule: str
    labels: GroupKey
    status: Status = Status.INACTIVE
    pending_since: datetime | None = None
    active_since: datetime | None = None
    last_active_at: datetime | None = None
    last_evaluated_at: datetime | None = None
    last_notified_at: datetime | None = None
    notified_status: Status | None = None
    resolved_at: datetime | None = None
    consecutive_hits: int = 0
    last_figures: Mapping[str, float] = field(default_factory=dict)
    model_version: str = ""
    rule_kind: str = ""
    severity: str = "warning"
    receivers: tuple[str, ...] = ()
    rule_labels: Mapping[str, str] = field(default_factory=dict)
    """What notifying needs from the rule, kept so that an orphaned firing can still be resolved."""

    @property
    def topic(self) -> str:
        return dict(self.labels).get("topic", "")

    @classmethod
    def new(cls, decision: Decision, model_version: str) -> AlertState:
        rule = decision.rule
        return cls(
            fingerprint=fingerprint(rule.name, decision.labels, model_version),
            rule=rule.name,
            labels=decision.labels,
            model_version=model_version,
        )


def advance(state: AlertState | None, decision: Decision, model_version: str) -> AlertState:
    """The state after `decision` (taken at `decision.now`) on the enrichments of `model_version`."""
    now = decision.now
    rule = decision.rule
    current = state if state is not None else AlertState.new(decision, model_version)
    current = replace(
        current,
        last_evaluated_at=now,
        last_figures=dict(decision.figures),
        rule_kind=rule.kind,
        severity=rule.severity,
        receivers=tuple(rule.receivers),
        rule_labels=dict(rule.labels),
    )
    if decision.active:
        hits = current.consecutive_hits + 1
        # max: an early firing (`alerts.early`) may have recorded a later tick than this one
        last_active = max(current.last_active_at, now) if current.last_active_at else now
        current = replace(current, consecutive_hits=hits, last_active_at=last_active)
        if current.status in (Status.INACTIVE, Status.RESOLVED):
            current = replace(
                current,
                status=Status.PENDING,
                pending_since=now,
                active_since=None,
                resolved_at=None,
                notified_status=None,
                last_notified_at=None,
                consecutive_hits=1,
            )
            hits = 1
        if current.status is Status.PENDING and hits >= rule.for_:
            current = replace(current, status=Status.FIRING, active_since=now)
        return current
    current = replace(current, consecutive_hits=0)
    if current.status is Status.PENDING:
        return replace(current, status=Status.INACTIVE, pending_since=None)
    if current.status is Status.FIRING:
        held_until = (current.last_active_at or now) + rule.keep_firing_for
        if now < held_until:
            return current
        return replace(current, status=Status.RESOLVED, resolved_at=now)
    return current


def needs_notify(state: AlertState, decision: Decision, now: datetime) -> Reason:
    """Why `state` (already advanced by `decision`) should be notified now, or `Reason.NONE`."""
    if state.status is Status.FIRING:
        if state.notified_status is not Status.FIRING or state.last_notified_at is None:
            return Reason.FIRST_FIRING
        if now - state.last_notified_at >= decision.rule.repeat_interval:
            return Reason.REPEAT
        return Reason.NONE
    if state.status is Status.RESOLVED and state.notified_status is Status.FIRING:
        return Reason.RESOLVED
    return Reason.NONE


def record_notification(state: AlertState, reason: Reason, now: datetime) -> AlertState:
    """The state after a notification for `reason` was emitted at `now`."""
    if reason is Reason.NONE:
        return state
    status = Status.RESOLVED if reason is Reason.RESOLVED else Status.FIRING
    return replace(state, notified_status=status, last_notified_at=now)


def orphan(state: AlertState, now: datetime) -> tuple[AlertState, Reason]:
    """Resolve a pending or firing state whose rule is gone (or whose model version is no longer
    evaluated): `Reason.ORPHANED` when its firing was notified, else nothing to send."""
    resolved = replace(state, status=Status.RESOLVED, resolved_at=now, consecutive_hits=0, last_evaluated_at=now)
    if state.status is Status.FIRING and state.notified_status is Status.FIRING:
        return resolved, Reason.ORPHANED
    return replace(resolved, status=Status.INACTIVE, pending_since=None), Reason.NONE


def skip_unchanged(state: AlertState, ticks: int, last: datetime) -> AlertState:
    """`state` after `ticks` more evaluations with the decision it last saw, the last at `last`.

    Only valid while no lifecycle deadline falls in those ticks (`next_deadline`): then the
    status does not move, an active condition only counts hits.
    """
    if ticks <= 0:
        return state
    if state.consecutive_hits > 0:
        return replace(state, consecutive_hits=state.consecutive_hits + ticks, last_active_at=last, last_evaluated_at=last)
    return replace(state, last_evaluated_at=last)


def grid_ceil(t: datetime, step: timedelta) -> datetime:
    """The first multiple of `step` since the epoch at or after `t`."""
    rest = (t - EPOCH) % step
    return t if not rest else t - rest + step


def next_deadline(state: AlertState, rule: AnyRule, step: timedelta) -> datetime | None:
    """The first tick after `state.last_evaluated_at` at which the lifecycle moves although the
    decision stays the same: `for` reached, `keep_firing_for` over, repeat due (None: never)."""
    last = state.last_evaluated_at
    if last is None:
        return None
    active = state.consecutive_hits > 0
    if state.status is Status.PENDING and active:
        return last + max(rule.for_ - state.consecutive_hits, 1) * step
    if state.status is not Status.FIRING:
        return None
    deadlines = []
    if state.notified_status is Status.FIRING and state.last_notified_at is not None:
        deadlines.append(grid_ceil(state.last_notified_at + rule.repeat_interval, step))
    else:
        deadlines.append(last + step)  # not notified yet (e.g. silenced): asks again every tick
    if not active:
        deadlines.append(grid_ceil((state.last_active_at or last) + rule.keep_firing_for, step))
    return max(min(deadlines), last + step)
