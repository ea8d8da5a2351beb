"""The early evaluation of a tick: fire as soon as the tick is due, on the articles stored so far.

The live worker evaluates every tick twice (`workers.alerts_worker`): early, as soon as its event
time has passed, and finally, once its allowed lateness has passed (`alerts.watermark`). Only the
final evaluations move the alert states tick after tick (`alerts.planner.plan_tick`), exactly as a
backtest does; the early evaluation only ever brings a firing forward.

`plan_early(...)` fires a (rule, group) at tick `now` when, on the articles stored so far:

- its condition holds at `now`, and at as many ticks before it as `for` needs (ticks not evaluated
  finally yet are evaluated again here; the consecutive hits the final evaluations recorded count);
- it is not firing already (the state the final evaluations left, or an earlier early firing);
- no silence mutes it.

The firing is the state the final evaluations will reach at `now` if no late article changes the
window: FIRING, notified at `now`, with the same event id as the final evaluation (and a backtest)
gives that firing. It is stored at once, so neither evaluation fires the episode again
(`lifecycle.needs_notify` sees it notified). The final evaluations then carry on from it:

- late articles that confirm it, or tip an earlier tick: nothing more is sent;
- late articles that dilute the window so that the final evaluation of `now` does not hold: the
  alert stays fired (the condition held on what was stored at `now`) and resolves by the normal
  rule, `keep_firing_for` after the last tick it held (`now` at the latest).

Resolutions and repeats are only ever sent by the final evaluations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from alerts.evaluate import Decision, evaluate
from alerts.lifecycle import AlertState, Reason, Status, advance, fingerprint, record_notification
from alerts.planner import EARLY, EmittedEvent, TickPlan, emit_event
from alerts.rules import AnyRule
from alerts.silences import Silence, is_silenced
from alerts.stats import GroupKey, RuleStats, StatsSpec
from schemas import AlertWindow

StatsAt = Callable[[datetime], Mapping[str, RuleStats]]
"""`RuleStats` per rule name at an event time, on the articles stored so far."""


def plan_early(
    rules: Mapping[str, AnyRule],
    stats_at: StatsAt,
    states: Mapping[str, AlertState],
    silences: Sequence[Silence],
    now: datetime,
    step: timedelta,
    settled: datetime | None,
    model_version: str,
    all_receivers: Sequence[str] = (),
) -> TickPlan:
    """The early firings of tick `now` (see the module docstring). `states` are the final
    evaluations' states, `settled` the last tick they evaluated (None: none yet), `step` the grid."""
    memo: dict[datetime, Mapping[str, RuleStats]] = {}

    def decide(rule: AnyRule, labels: GroupKey, at: datetime) -> Decision:
        if at not in memo:
            memo[at] = stats_at(at)
        rule_stats = memo[at].get(rule.name) or RuleStats(StatsSpec.of(rule), at, {}, {})
        return evaluate(rule, rule_stats.get(labels), at)

    decisions: list[Decision] = []
    fired: list[tuple[AlertState, EmittedEvent]] = []
    current = {name: stats for name, stats in stats_at(now).items() if name in rules}
    memo[now] = current
    for name in sorted(current):
        rule = rules[name]
        for labels in sorted(k for k in current[name].groups if rule.covers(dict(k).get("topic", ""))):
            decision = decide(rule, labels, now)
            decisions.append(decision)
            if not decision.active:
                continue
            before = states.get(fingerprint(name, labels, model_version))
            if before is not None and before.status is Status.FIRING:
                continue
            state, streak = _streak(rule, labels, decision, before, step, settled, decide)
            for step_decision in streak:
                state = advance(state, step_decision, model_version)
            if state is None or state.status is not Status.FIRING:
                continue
            labelled = {**dict(labels), **rule.labels, "rule": rule.name, "severity": rule.severity}
            if is_silenced(silences, labelled, now):
                continue  # the final evaluation records the muting
            fired.append(_fire(state, before, decision, now, all_receivers))
    return TickPlan(
        decisions=tuple(decisions),
        states=tuple(s for s, _ in fired),
        events=tuple(e for _, e in fired),
        silenced=(),
    )


def _streak(
    rule: AnyRule,
    labels: GroupKey,
    decision: Decision,
    before: AlertState | None,
    step: timedelta,
    settled: datetime | None,
    decide: Callable[[AnyRule, GroupKey, datetime], Decision],
) -> tuple[AlertState | None, list[Decision]]:
    """The state to advance from and the active decisions to advance it with, oldest first: the
    active ticks before `now` back to the last settled tick (at most `for` in all), and the
    settled state when the streak reaches it and it is pending (its hits count)."""
    streak = [decision]
    at = decision.now - step
    while len(streak) < rule.for_ and (settled is None or at > settled):
        earlier = decide(rule, labels, at)
        if not earlier.active:
            return None, streak[::-1]
        streak.append(earlier)
        at -= step
    reached = settled is not None and at <= settled
    carried = before if reached and before is not None and before.status is Status.PENDING else None
    return carried, streak[::-1]


def _fire(
    state: AlertState,
    before: AlertState | None,
    decision: Decision,
    now: datetime,
    all_receivers: Sequence[str],
) -> tuple[AlertState, EmittedEvent]:
    """The stored state and the event of one early firing. The state keeps the final evaluations'
    hit count and last evaluated tick, which they go on advancing from."""
    window = AlertWindow(start=decision.window_start, end=decision.window_end)
    event = emit_event(state, Reason.FIRST_FIRING, now, window, decision.figures, all_receivers, EARLY)
    notified = record_notification(state, Reason.FIRST_FIRING, now)
    kept = replace(
        notified,
        consecutive_hits=before.consecutive_hits if before is not None else 0,
        last_evaluated_at=before.last_evaluated_at if before is not None else None,
    )
    return kept, event
