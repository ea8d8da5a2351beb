"""`advance` / `needs_notify`: `for`, keep_firing_for, cooldown, resolved exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.evaluate import Decision, evaluate
from alerts.lifecycle import AlertState, Reason, Status, advance, needs_notify, record_notification
from alerts.rules import NegativeSpikeRule
from alerts.stats import Aggregate, WindowStats

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)
LABELS = (("topic", "Macro"),)


def decision(rule: NegativeSpikeRule, active: bool, now: datetime) -> Decision:
    return Decision(
        rule=rule,
        labels=LABELS,
        active=active,
        now=now,
        window_start=now - rule.window,
        window_end=now,
        reason="test",
        figures={"count": 10.0},
    )


def run(rule: NegativeSpikeRule, pattern: list[bool]) -> list[tuple[datetime, Reason, Status]]:
    state: AlertState | None = None
    out = []
    for i, active in enumerate(pattern):
        now = START + i * STEP
        d = decision(rule, active, now)
        state = advance(state, d, "m1")
        reason = needs_notify(state, d, now)
        state = record_notification(state, reason, now)
        out.append((now, reason, state.status))
    return out


rule_strategy = st.builds(
    NegativeSpikeRule,
    name=st.just("r"),
    for_=st.integers(1, 4),
    keep_firing_for=st.sampled_from([timedelta(0), timedelta(seconds=30), timedelta(minutes=2)]),
    repeat_interval=st.sampled_from([timedelta(minutes=1), timedelta(minutes=3), timedelta(hours=4)]),
)


@settings(max_examples=300, deadline=None)
@given(rule_strategy, st.lists(st.booleans(), max_size=60))
def test_lifecycle_invariants(rule: NegativeSpikeRule, pattern: list[bool]) -> None:
    # end with enough inactive evaluations for keep_firing_for to run out
    pattern = pattern + [False] * 10
    events = run(rule, pattern)
    last_sent: datetime | None = None
    open_activation = False
    streak = 0
    for (now, reason, status), active in zip(events, pattern, strict=True):
        streak = streak + 1 if active else 0
        if reason is Reason.FIRST_FIRING:
            assert not open_activation, "a second first-firing in the same activation"
            assert streak >= rule.for_, "fired before `for` consecutive evaluations"
            open_activation, last_sent = True, now
        elif reason is Reason.REPEAT:
            assert open_activation and last_sent is not None
            assert now - last_sent >= rule.repeat_interval, "repeat inside the cooldown"
            last_sent = now
        elif reason is Reason.RESOLVED:
            assert open_activation, "resolved without a notified firing"
            open_activation = False
        if status is Status.FIRING:
            assert open_activation
    assert not open_activation, "every notified firing is resolved exactly once"


@settings(deadline=None)
@given(
    rule_strategy,
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 5000)), max_size=40),
)
def test_no_notification_below_the_volume_floor(
    rule: NegativeSpikeRule, windows: list[tuple[int, int, int]]
) -> None:
    """evaluate -> advance -> needs_notify over any stats with fewer articles than the floor (8)."""
    rule = rule.model_copy(update={"min_count": 8, "min_z": 0.0, "min_negative_share": 0.0})
    state: AlertState | None = None
    for i, (count, negative, base) in enumerate(windows):
        now = START + i * STEP
        ws = WindowStats(
            LABELS,
            now - rule.window,
            now,
            Aggregate(count, min(negative, count)),
            Aggregate(base, base // 5),
            rule.baseline.total_seconds(),
        )
        decision = evaluate(rule, ws, now)
        state = advance(state, decision, "m1")
        assert needs_notify(state, decision, now) is Reason.NONE
        assert state.status is Status.INACTIVE


def test_for_keep_firing_for_and_repeat() -> None:
    rule = NegativeSpikeRule(
        name="r", for_=2, keep_firing_for=timedelta(minutes=1), repeat_interval=timedelta(minutes=2)
    )
    pattern = [True, True, True, True, True, True, False, False, False, False]
    reasons = [(r.value, s.value) for _, r, s in run(rule, pattern)]
    assert reasons == [
        ("none", "pending"),
        ("first_firing", "firing"),
        ("none", "firing"),
        ("none", "firing"),
        ("none", "firing"),
        ("repeat", "firing"),  # 2 minutes after the first firing
        ("none", "firing"),  # keep_firing_for: last held 30 s ago
        ("resolved", "resolved"),  # 60 s ago: keep_firing_for has run out
        ("none", "resolved"),
        ("none", "resolved"),
    ]


def test_pending_that_stops_never_notifies_and_restart_is_new_activation() -> None:
    rule = NegativeSpikeRule(name="r", for_=3)
    reasons = [r for _, r, _ in run(rule, [True, True, False, True, True, True, False])]
    assert reasons == [Reason.NONE] * 5 + [Reason.FIRST_FIRING, Reason.RESOLVED]
