"""Early and final evaluations (`alerts.early`) against the backtest, on generated histories.

The live worker runs with an injected wall clock on an in-memory store; what it sees at a wall
time is the articles stored by then (each article arrives `delay` after its `published_at`, at
most the allowed lateness). The backtest sees every article from the start: it is the final
evaluation of every tick.

- Articles on time: the live events are the backtest's (ids, figures, states), and every firing
  was sent by the early evaluation of its tick.
- Articles late: no episode fires twice; every live firing sent by a final evaluation is a backtest
  firing; every backtest firing is announced live no later than its final evaluation, by a live
  firing at most the allowed lateness before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.backtest import backtest_every_tick, event_order
from alerts.backtest_events import LIVE_STATUSES
from alerts.engine import AlertEngine
from alerts.lifecycle import Reason
from alerts.planner import EmittedEvent
from alerts.rules import parse_rules
from alerts.state_store import InMemoryStateStore
from alerts.stats import RuleStats, StatsSpec
from alerts.stats_memory import MemoryStats, ScoredRow, to_us
from workers.alerts_worker import AlertsWorker

S0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
STEP = timedelta(seconds=60)
LATENESS = timedelta(minutes=3)
END = S0 + timedelta(minutes=150)
OFFSET = timedelta(milliseconds=50)
RULES = parse_rules(
    """
version: 1
rules:
  - {name: neg, kind: negative_spike, window: 10m, baseline: 2h, min_count: 3, min_negative_share: 0.5,
     min_z: 1.0, for: 2, keep_firing_for: 5m, repeat_interval: 20m}
  - {name: neg-ticker, kind: negative_spike, group_by: [topic, ticker], window: 30m, baseline: 6h,
     min_count: 2, min_negative_share: 0.5, min_z: 0.5, for: 1, keep_firing_for: 0s, repeat_interval: 1h}
  - {name: volume, kind: volume_spike, window: 10m, baseline: 3h, min_count: 4, min_ratio: 2.0,
     min_z: 1.0, for: 3, keep_firing_for: 2m, repeat_interval: 15m}
  - {name: drop, kind: sentiment_drop, window: 10m, baseline: 2h, min_count: 3, min_drop: 0.3, min_z: 0.5,
     for: 1, keep_firing_for: 1m, repeat_interval: 30m}
"""
)


@dataclass(frozen=True)
class Arrival:
    row: ScoredRow
    stored_at: datetime


def background() -> list[Arrival]:
    """A calm day before S0 (one article every 17 minutes, up to an hour before S0): baselines,
    and no rule holds on it."""
    out = []
    for k in range(0, 23 * 60, 17):
        at = S0 - timedelta(days=1) + timedelta(minutes=k, seconds=k % 60)
        row = ScoredRow(to_us(at), ("Macro", "Earnings")[k % 2], k % 5 == 0, (k % 9 - 4) / 8,
                        ("ACME",) if k % 3 == 0 else (), "m1")
        out.append(Arrival(row, at))
    return out


def arrivals(seed: Sequence[tuple[int, int, int, bool, int, int, int]], late: bool) -> list[Arrival]:
    """The background plus generated articles after S0: (minute, second, topic, negative,
    score/64, ticker, delay in seconds); the delay is dropped unless `late`."""
    out = background()
    for minute, second, topic, negative, score, ticker, delay in seed:
        at = S0 + timedelta(minutes=minute, seconds=second)
        tickers = (("ACME", "GLBX")[ticker - 1],) if ticker else ()
        row = ScoredRow(to_us(at), ("Macro", "Earnings")[topic], negative, score / 64, tickers, "m1")
        out.append(Arrival(row, at + timedelta(seconds=delay if late else 0)))
    return out


articles = st.lists(
    st.tuples(
        st.integers(0, 130), st.integers(0, 59), st.integers(0, 1), st.booleans(), st.integers(-64, 64),
        st.integers(0, 2), st.integers(0, int(LATENESS.total_seconds())),
    ),
    max_size=90,
)


class Stored:
    """A `StatsSource` over the articles stored by the wall clock's time."""

    def __init__(self, data: list[Arrival], wall: list[datetime]) -> None:
        self.data = sorted(data, key=lambda a: a.stored_at)
        self.wall = wall
        self.cache: dict[int, MemoryStats] = {}

    def rule_stats(self, spec: StatsSpec, model_version: str, now: datetime) -> RuleStats:
        n = sum(1 for a in self.data if a.stored_at <= self.wall[0])
        if n not in self.cache:
            self.cache[n] = MemoryStats(sorted((a.row for a in self.data[:n]), key=lambda r: r.at))
        return self.cache[n].rule_stats(spec, model_version, now)


@dataclass(frozen=True)
class Sent:
    emitted: EmittedEvent
    wall: datetime


def live_run(data: list[Arrival]) -> tuple[list[Sent], InMemoryStateStore]:
    """The worker's scheduled job at every tick of the grid from S0 until END's final evaluation;
    early evaluations of ticks up to END."""
    wall = [S0 + OFFSET]
    store = InMemoryStateStore()
    engine = AlertEngine(cast(Any, None), RULES, store, model_version="m1", use_silences=False,
                         stats=Stored(data, wall))
    worker = AlertsWorker(engine, cast(Any, None), interval_s=STEP.total_seconds(),
                          lateness_s=LATENESS.total_seconds(), clock=lambda: wall[0])
    sent: list[Sent] = []
    while wall[0] <= END + LATENESS + OFFSET:
        seen = len(store.events)
        worker.evaluate_once()
        if worker.watermark.current(wall[0]) <= END:
            worker.evaluate_early()
        sent += [Sent(e, wall[0]) for e in store.events[seen:]]
        wall[0] += STEP
    return sent, store


def live_and_backtest(seed: list, *, late: bool) -> tuple[list[Sent], InMemoryStateStore, Any]:
    """The live run over the generated articles, and the backtest of the same history."""
    data = arrivals(seed, late=late)
    sent, store = live_run(data)
    rows = sorted((a.row for a in data), key=lambda r: r.at)
    return sent, store, backtest_every_tick(rows, RULES, "m1", S0 - LATENESS, END, STEP)


def key(e: EmittedEvent) -> tuple[object, ...]:
    return e.event_id, e.reason, e.event


@settings(max_examples=30, deadline=None)
@given(articles)
def test_on_time_articles_fire_early_and_exactly_as_the_backtest(seed: list) -> None:
    sent, store, expected = live_and_backtest(seed, late=False)
    live = sorted((s.emitted for s in sent), key=event_order)
    assert [key(e) for e in live] == [key(e) for e in expected.events]
    live_states = sorted((s for s in store.states.values() if s.status in LIVE_STATUSES), key=lambda s: s.fingerprint)
    assert tuple(live_states) == expected.states
    firsts = [s for s in sent if s.emitted.reason is Reason.FIRST_FIRING]
    assert all(s.emitted.evaluation == "early" for s in firsts)
    assert all(s.wall == s.emitted.event.emitted_at + OFFSET for s in firsts), "sent as soon as the tick was due"


@settings(max_examples=30, deadline=None)
@given(articles)
def test_late_articles_never_fire_an_episode_twice_and_lose_no_firing(seed: list) -> None:
    sent, _, expected = live_and_backtest(seed, late=True)
    episodes: dict[str, list[tuple[datetime, datetime | None, Sent]]] = defaultdict(list)
    for s in sorted(sent, key=lambda s: (s.wall, event_order(s.emitted))):
        fp, reason = s.emitted.event.fingerprint, s.emitted.reason
        if reason is Reason.FIRST_FIRING:
            assert not episodes[fp] or episodes[fp][-1][1] is not None, "fired twice in one episode"
            episodes[fp].append((s.emitted.event.emitted_at, None, s))
        elif reason in (Reason.RESOLVED, Reason.ORPHANED):
            start, end, first = episodes[fp][-1]
            assert end is None, "resolved twice"
            episodes[fp][-1] = (start, s.emitted.event.emitted_at, first)
    backtest_keys = [key(e) for e in expected.events]
    for s in sent:
        if s.emitted.reason is Reason.FIRST_FIRING and s.emitted.evaluation == "final":
            assert key(s.emitted) in backtest_keys, "a final firing is the backtest's"
    for e in expected.events:
        if e.reason is not Reason.FIRST_FIRING:
            continue
        at = e.event.emitted_at
        covering = [
            first for start, end, first in episodes[e.event.fingerprint]
            if start - LATENESS <= at and (end is None or at < end)
        ]
        assert len(covering) == 1, f"backtest firing at {at} not announced live"
        assert covering[0].wall <= at + LATENESS + OFFSET, "announced later than its final evaluation"
