"""Alert lifecycle as pure functions: inactive -> pending -> firing -> resolved, and dedup.

- `advance(state, decision)`: the next state after one evaluation (`for`, `keep_firing_for`).
- `needs_notify(state, decision, now)`: alertmanager's `needsUpdate`: whether the advanced
  state warrants a notification, and why (first firing, repeat elapsed, resolved, none).
- `record_notification(state, reason, now)`: remember what was sent (the dedup log).

A resolution is only sent for an activation whose firing was sent, and only once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from alerts.evaluate import Decision, fingerprint
from alerts.stats import GroupKey

__all__ = [
    "AlertState",
    "Reason",
    "Status",
    "advance",
    "fingerprint",
    "needs_notify",
    "record_notification",
]


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

    @property
    def topic(self) -> str:
        return dict(self.labels).get("topic", "")

    @classmethod
    def new(cls, decision: Decision) -> AlertState:
        return cls(fingerprint=decision.fingerprint, rule=decision.rule.name, labels=decision.labels)


def advance(state: AlertState | None, decision: Decision) -> AlertState:
    """The state after `decision` (taken at `decision.now`)."""
    now = decision.now
    rule = decision.rule
    current = state if state is not None else AlertState.new(decision)
    current = replace(current, last_evaluated_at=now, last_figures=dict(decision.figures))
    if decision.active:
        hits = current.consecutive_hits + 1
        current = replace(current, consecutive_hits=hits, last_active_at=now)
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
