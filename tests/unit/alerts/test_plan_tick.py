"""The pure core of a tick: groups, silences, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.lifecycle import Reason, Status
from alerts.planner import plan_tick
from alerts.rules import NegativeSpikeRule
from alerts.silences import Silence
from alerts.stats import Aggregate, RuleStats, StatsSpec

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULE = NegativeSpikeRule(name="neg", min_count=5, min_negative_share=0.5, min_z=2.0, receivers=("desk",))


def stats() -> dict[str, RuleStats]:
    window = {
        (("topic", t),): Aggregate(n, k) for t, n, k in (("Macro", 10, 9), ("Earnings", 10, 2), ("IPO", 2, 2))
    }
    baseline = {labels: Aggregate(1000, 200) for labels in window}
    return {"neg": RuleStats(StatsSpec.of(RULE), NOW, window, baseline)}


def test_only_the_spiking_topic_fires_and_state_is_kept_for_it_only() -> None:
    plan = plan_tick({"neg": RULE}, stats(), {}, [], NOW, "m1")
    assert [(e.event.topic, e.reason) for e in plan.events] == [("Macro", Reason.FIRST_FIRING)]
    assert plan.events[0].receivers == ("desk",) and plan.events[0].event.emitted_at == NOW
    assert [(s.topic, s.status) for s in plan.states] == [("Macro", Status.FIRING)]
    again = plan_tick({"neg": RULE}, stats(), {}, [], NOW, "m1")
    assert again.events[0].event_id == plan.events[0].event_id  # deterministic


def test_silence_mutes_firing_and_unmuted_later() -> None:
    silence = Silence(1, {"topic": "Macro"}, NOW - timedelta(hours=1), NOW + timedelta(hours=1), "", "t")
    plan = plan_tick({"neg": RULE}, stats(), {}, [silence], NOW, "m1")
    assert plan.events == () and plan.silenced == (plan.states[0].fingerprint,)
    later = NOW + timedelta(hours=2)
    states = {s.fingerprint: s for s in plan.states}
    plan2 = plan_tick({"neg": RULE}, stats(), states, [silence], later, "m1")
    assert [e.reason for e in plan2.events] == [Reason.FIRST_FIRING]


def test_firing_alert_without_data_resolves() -> None:
    plan = plan_tick({"neg": RULE}, stats(), {}, [], NOW, "m1")
    states = {s.fingerprint: s for s in plan.states}
    later = NOW + timedelta(minutes=1)
    plan2 = plan_tick({"neg": RULE}, {}, states, [], later, "m1")
    assert [(e.event.status, e.event.ended_at) for e in plan2.events] == [("resolved", later)]


def test_tick_times_are_aligned_to_the_cadence() -> None:
    from alerts.planner import tick_times

    start = datetime(2026, 3, 2, 12, 0, 7, tzinfo=UTC)
    times = tick_times(start, start + timedelta(minutes=1, seconds=30), timedelta(seconds=30))
    assert times == [datetime(2026, 3, 2, 12, 0, s, tzinfo=UTC) for s in (30,)] + [
        datetime(2026, 3, 2, 12, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 12, 1, 30, tzinfo=UTC),
    ]
    assert tick_times(times[0], times[0], timedelta(seconds=30)) == [times[0]]


def test_a_firing_alert_whose_rule_is_gone_is_resolved_once() -> None:
    plan = plan_tick({"neg": RULE}, stats(), {}, [], NOW, "m1")
    states = {s.fingerprint: s for s in plan.states}
    renamed = RULE.model_copy(update={"name": "neg-renamed"})
    later = NOW + timedelta(minutes=1)
    plan2 = plan_tick({"neg-renamed": renamed}, {}, states, [], later, "m1")
    orphaned = [e for e in plan2.events if e.event.rule == "neg"]
    assert [(e.event.status, e.reason, e.receivers) for e in orphaned] == [("resolved", Reason.ORPHANED, ("desk",))]
    assert orphaned[0].event.labels == plan.events[0].event.labels and orphaned[0].event.ended_at == later
    done = {s.fingerprint: s for s in plan2.states}
    assert all(s.status is Status.RESOLVED for s in done.values() if s.rule == "neg")
    plan3 = plan_tick({"neg-renamed": renamed}, {}, {**states, **done}, [], later + timedelta(minutes=1), "m1")
    assert [e for e in plan3.events if e.event.rule == "neg"] == []


def test_switching_the_model_version_resolves_the_old_versions_firing() -> None:
    plan = plan_tick({"neg": RULE}, stats(), {}, [], NOW, "m1")
    states = {s.fingerprint: s for s in plan.states}
    plan2 = plan_tick({"neg": RULE}, stats(), states, [], NOW + timedelta(minutes=1), "m2")
    got = sorted((e.event.model_version, e.event.status, e.reason.value) for e in plan2.events)
    assert got == [("m1", "resolved", "orphaned"), ("m2", "firing", "first_firing")]
    assert len({e.event.fingerprint for e in plan2.events}) == 2  # the version is part of the identity


def test_a_pending_orphan_sends_nothing() -> None:
    slow = RULE.model_copy(update={"for_": 3})
    plan = plan_tick({"neg": slow}, stats(), {}, [], NOW, "m1")
    assert plan.events == () and plan.states[0].status is Status.PENDING
    plan2 = plan_tick({}, {}, {s.fingerprint: s for s in plan.states}, [], NOW + timedelta(minutes=1), "m1")
    assert plan2.events == () and plan2.states[0].status is Status.INACTIVE
