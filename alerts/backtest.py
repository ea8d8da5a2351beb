"""Backtest: the alerts the live worker would have raised over a stretch of history.

Ticks are the live grid (multiples of `step` since the Unix epoch, the live worker's
`FINSENT_ALERTS_INTERVAL_S`), from the first at or after `start` to the last at or before `end`.
The result equals evaluating every rule at every one of those ticks with `plan_tick`
(`backtest_every_tick`, which a test compares against on generated data), but the work follows
the data, not the calendar. A (rule, group) is evaluated only at ticks where its inputs can change:

- its window gains or loses an article (first tick after `published_at`, first after
  `published_at + window`);
- its baseline gains or loses one (the baseline moves in 5-minute steps, see `alerts.stats`);
- its lifecycle has a deadline (`for` reached, `keep_firing_for` over, repeat due:
  `lifecycle.next_deadline`);
- the first tick (every group).

Between those ticks its decision cannot change, so its state is carried forward in one step
(`lifecycle.skip_unchanged`). Groups below a rule's volume floor with no pending or firing state
are skipped (`evaluate` would answer "inactive"). The change instants are computed with numpy per
statistics spec, so the cost is proportional to the number of articles (times the periods each
rule reads), not to the number of ticks.

Both paths share `alerts.planner` (evaluate, lifecycle, events) with the live worker, and the
statistics come from `alerts.stats_memory.MemoryStats`, proven equal to the live SQL.
The output is a pure function of (rules, stored enrichments, model version, range, step).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from alerts.backtest_events import LIVE_STATUSES, EventDrivenRun
from alerts.lifecycle import AlertState, grid_ceil
from alerts.planner import EmittedEvent, plan_tick
from alerts.rules import RulesConfig
from alerts.state_store import InMemoryStateStore
from alerts.stats import GroupKey, RuleStats, StatsSpec, floor_time
from alerts.stats_memory import MemoryStats, ScoredRow, Series, load_rows, periods_us
from pipeline.db.models import Enrichment


@dataclass(frozen=True)
class BacktestResult:
    model_version: str
    start: datetime
    end: datetime
    step: timedelta
    ticks: int
    """Grid ticks in the range (what ticking every `step` evaluates)."""
    evaluated: int
    """Ticks at which something was evaluated."""
    rules: tuple[str, ...]
    rules_sha256: str
    events: tuple[EmittedEvent, ...]
    topics: tuple[str, ...] = ()
    states: tuple[AlertState, ...] = field(default=(), compare=False)
    """Pending and firing states at the end."""


def tick_grid(start: datetime, end: datetime, step: timedelta) -> tuple[datetime, int]:
    """The first live tick at or after `start` and how many ticks there are up to `end`."""
    if step <= timedelta(0):
        raise ValueError("[BKT001] the step must be positive")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("[BKT002] backtest bounds must be aware datetimes")
    first = grid_ceil(start, step)
    last = floor_time(end, step)
    return first, max((last - first) // step + 1, 0)


def longest_reach(rules: RulesConfig) -> timedelta:
    """How far before a tick any rule reads (its oldest baseline period, floor slack included)."""
    return max((StatsSpec.of(r).reach for r in rules.rules), default=timedelta(0))


def stored_range(engine: Engine, model_version: str) -> tuple[datetime, datetime] | None:
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(Enrichment.published_at), func.max(Enrichment.published_at)).where(
                Enrichment.model_version == model_version
            )
        ).one()
    return None if first is None or last is None else (first, last)


def default_bounds(
    engine: Engine, rules: RulesConfig, model_version: str, step: timedelta
) -> tuple[datetime, datetime] | None:
    """From the first stored article to the last one plus the longest window and one step: every
    alert the history can raise, and its resolution where it has one."""
    stored = stored_range(engine, model_version)
    if stored is None:
        return None
    first, last = stored
    longest = max((r.window + r.keep_firing_for for r in rules.rules), default=timedelta(0))
    return floor_time(first, step), last + longest + step


def run_backtest(
    engine: Engine,
    rules: RulesConfig,
    model_version: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    rules_text: str = "",
    topics: Sequence[str] = (),
    receivers: Sequence[str] = (),
) -> BacktestResult:
    """Load the enrichments the range needs and backtest them (`backtest_rows`)."""
    tick_grid(start, end, step)
    rows = load_rows(engine, model_version, start - longest_reach(rules) - step, end, topics)
    return backtest_rows(
        rows, rules, model_version, start, end, step, rules_text=rules_text, topics=topics, receivers=receivers
    )


def backtest_rows(
    rows: Sequence[ScoredRow],
    rules: RulesConfig,
    model_version: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    rules_text: str = "",
    topics: Sequence[str] = (),
    receivers: Sequence[str] = (),
) -> BacktestResult:
    """The event-driven backtest over `rows` (see the module docstring)."""
    first, n_ticks = tick_grid(start, end, step)
    run = EventDrivenRun(MemoryStats(rows), rules, model_version, first, n_ticks, step, tuple(receivers))
    events, evaluated = run.run()
    return _result(rules, model_version, start, end, step, n_ticks, evaluated, events, run.live_states(),
                   rules_text, topics)


def backtest_every_tick(
    rows: Sequence[ScoredRow],
    rules: RulesConfig,
    model_version: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    receivers: Sequence[str] = (),
    on_tick: Callable[[int], None] | None = None,
) -> BacktestResult:
    """The reference: `plan_tick` at every grid tick with `MemoryStats` (what the live worker does
    with SQL). Per tick only the groups with an article in the window or a live state are listed,
    which is all `plan_tick` looks at."""
    first, n_ticks = tick_grid(start, end, step)
    stats = MemoryStats(rows)
    by_name = {r.name: r for r in rules.rules}
    specs = {StatsSpec.of(r) for r in rules.rules}
    present = {spec: _Presence(stats.groups(spec, model_version)) for spec in specs}
    store = InMemoryStateStore()
    for i in range(n_ticks):
        now = first + i * step
        tick_stats: dict[StatsSpec, RuleStats] = {}
        for spec, groups in present.items():
            w_range, b_ranges = periods_us(spec, now)
            window = {k: s.aggregate((w_range,)) for k, s in groups.in_window(w_range)}
            baseline = {k: stats.groups(spec, model_version)[k].aggregate(b_ranges) for k in window}
            tick_stats[spec] = RuleStats(spec, now, window, baseline)
        states = store.load()
        for state in states.values():  # live states of groups gone quiet: their baseline too
            spec = StatsSpec.of(by_name[state.rule])
            series = stats.groups(spec, model_version).get(state.labels)
            if series is not None and state.labels not in tick_stats[spec].baseline:
                baseline = dict(tick_stats[spec].baseline)
                baseline[state.labels] = series.aggregate(periods_us(spec, now)[1])
                tick_stats[spec] = RuleStats(spec, now, tick_stats[spec].window, baseline)
        plan = plan_tick(by_name, {n: tick_stats[StatsSpec.of(r)] for n, r in by_name.items()}, states, [], now,
                         model_version, receivers)
        store.save(plan.states, plan.events)
        if on_tick is not None:
            on_tick(i + 1)
    live = tuple(s for s in store.states.values() if s.status in LIVE_STATUSES)
    return _result(rules, model_version, start, end, step, n_ticks, n_ticks, store.events, live, "", ())


def _result(
    rules: RulesConfig,
    model_version: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    n_ticks: int,
    evaluated: int,
    events: Sequence[EmittedEvent],
    states: Sequence[AlertState],
    rules_text: str,
    topics: Sequence[str],
) -> BacktestResult:
    return BacktestResult(
        model_version=model_version,
        start=start,
        end=end,
        step=step,
        ticks=n_ticks,
        evaluated=evaluated,
        rules=tuple(sorted(r.name for r in rules.rules)),
        rules_sha256=hashlib.sha256(rules_text.encode()).hexdigest() if rules_text else "",
        events=tuple(sorted(events, key=event_order)),
        topics=tuple(sorted(topics)),
        states=tuple(sorted(states, key=lambda s: s.fingerprint)),
    )


def event_order(e: EmittedEvent) -> tuple[str, str, str, str]:
    return (e.event.emitted_at.isoformat(), e.event.rule, e.event.fingerprint, e.event.status)


class _Presence:
    """The groups with at least one row in a window that only moves forward."""

    def __init__(self, groups: Mapping[GroupKey, Series]) -> None:
        self.groups = groups
        merged = sorted((t, key) for key, s in groups.items() for t in s.times)
        self.times = [t for t, _ in merged]
        self.keys = [k for _, k in merged]
        self.counts: dict[GroupKey, int] = {}
        self.i = self.j = 0

    def in_window(self, window: tuple[int, int]) -> list[tuple[GroupKey, Series]]:
        i, j = bisect.bisect_left(self.times, window[0]), bisect.bisect_left(self.times, window[1])
        for k in range(max(self.j, i), j):
            self.counts[self.keys[k]] = self.counts.get(self.keys[k], 0) + 1
        for k in range(self.i, min(self.j, i)):
            self.counts[self.keys[k]] -= 1
            if not self.counts[self.keys[k]]:
                del self.counts[self.keys[k]]
        self.i, self.j = i, j
        return [(k, self.groups[k]) for k in sorted(self.counts)]
