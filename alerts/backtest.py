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
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine, func, select

from alerts.evaluate import could_be_active
from alerts.lifecycle import AlertState, Status, grid_ceil, next_deadline, skip_unchanged
from alerts.planner import EmittedEvent, plan_group, plan_tick
from alerts.rules import AnyRule, NegativeSpikeRule, RulesConfig, VolumeSpikeRule
from alerts.state_store import InMemoryStateStore
from alerts.stats import BASELINE_ALIGN, Aggregate, GroupKey, RuleStats, StatsSpec, floor_time, window_stats
from alerts.stats_memory import MemoryStats, ScoredRow, Series, load_rows, periods_us, to_us
from pipeline.db.models import Enrichment

LIVE_STATUSES = (Status.PENDING, Status.FIRING)
_US = timedelta(microseconds=1)


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
    run = _EventDriven(MemoryStats(rows), rules, model_version, first, n_ticks, step, tuple(receivers))
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


class _EventDriven:
    """One event-driven backtest run (see the module docstring). Specs and groups are referred to
    by index (`spec_id`, `key_id`) in the hot loop."""

    def __init__(
        self,
        stats: MemoryStats,
        rules: RulesConfig,
        model_version: str,
        first: datetime,
        n_ticks: int,
        step: timedelta,
        receivers: tuple[str, ...],
    ) -> None:
        self.version = model_version
        self.first, self.n_ticks, self.step = first, n_ticks, step
        self.receivers = receivers
        self.specs = sorted({StatsSpec.of(r) for r in rules.rules}, key=repr)
        self.spec_of = {r.name: self.specs.index(StatsSpec.of(r)) for r in rules.rules}
        self.rules_of = [[r for r in rules.rules if self.spec_of[r.name] == i] for i in range(len(self.specs))]
        self.groups = [stats.groups(spec, model_version) for spec in self.specs]
        self.keys = [list(groups) for groups in self.groups]
        self.series = [list(groups.values()) for groups in self.groups]
        self.window_us = [spec.window // _US for spec in self.specs]
        self.baseline_seconds = [spec.baseline_seconds for spec in self.specs]
        self.align_us = BASELINE_ALIGN // _US
        self.baselines: dict[tuple[int, int], tuple[int, Aggregate]] = {}
        """Per group, its baseline aggregate and the baseline end it was computed for (the
        baseline only moves every 5 minutes)."""
        self.live: dict[tuple[str, int], AlertState] = {}
        self.deadline: dict[tuple[str, int], int] = {}
        self.heap: list[tuple[int, str, int]] = []

    def live_states(self) -> list[AlertState]:
        """The pending and firing states as of the last tick."""
        last = self.first + (self.n_ticks - 1) * self.step
        return [
            skip_unchanged(s, (last - (s.last_evaluated_at or last)) // self.step, last) for s in self.live.values()
        ]

    def run(self) -> tuple[list[EmittedEvent], int]:
        if self.n_ticks <= 0:
            return [], 0
        ticks, spec_ids, key_ids = (a.tolist() for a in self._schedule())
        events: list[EmittedEvent] = []
        evaluated, pos, n = 0, 0, len(ticks)
        while True:
            next_change = ticks[pos] if pos < n else self.n_ticks
            next_due = self.heap[0][0] if self.heap else self.n_ticks
            tick = min(next_change, next_due)
            if tick >= self.n_ticks:
                break
            touched: dict[int, set[int]] = {}
            while pos < n and ticks[pos] == tick:
                touched.setdefault(spec_ids[pos], set()).add(key_ids[pos])
                pos += 1
            while self.heap and self.heap[0][0] == tick:
                _, name, key_id = heapq.heappop(self.heap)
                if self.deadline.get((name, key_id)) == tick:
                    touched.setdefault(self.spec_of[name], set()).add(key_id)
            if self._evaluate(tick, touched, events):
                evaluated += 1
        return events, evaluated

    def _schedule(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tick index, spec index, group index) of the input changes where a group without state
        reaches its volume floor, sorted by tick (the first tick lists every group at its floor).
        Every change of every group is kept in `self.changes` for the groups with a state."""
        first_us, step_us, align_us = to_us(self.first), self.step // _US, BASELINE_ALIGN // _US
        self.changes: list[tuple[np.ndarray, np.ndarray]] = []
        parts = []
        for spec_id, spec in enumerate(self.specs):
            series = self.series[spec_id]
            if not series:
                self.changes.append((np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)))
                continue
            times = np.concatenate([np.asarray(s.times, dtype=np.int64) for s in series])
            key_ids = np.concatenate([np.full(len(s.times), i, dtype=np.int64) for i, s in enumerate(series)])
            window_us = spec.window // _US
            instants = [times + 1, times + window_us + 1]
            for a, b in spec.baseline_offsets():
                for edge in (b, a):  # enters when the baseline end passes t - b, leaves past t - a
                    x = times - edge // _US
                    instants.append(x - np.mod(x, align_us) + align_us + window_us)
            n_keys = len(series)
            codes = []
            for instant in instants:
                idx = -(-(instant - first_us) // step_us)  # ceil
                keep = (idx > 0) & (idx < self.n_ticks)
                codes.append(idx[keep] * n_keys + key_ids[keep])
            codes.append(np.arange(n_keys, dtype=np.int64))  # tick 0: every group
            unique = np.unique(np.concatenate(codes))
            ticks, keys = unique // n_keys, unique % n_keys
            by_key = np.lexsort((ticks, keys))
            self.changes.append((ticks[by_key], np.searchsorted(keys[by_key], np.arange(n_keys + 1))))
            busy = self._candidates(spec_id, times, key_ids, ticks, keys, first_us, step_us)
            parts.append((ticks[busy], np.full(int(busy.sum()), spec_id, dtype=np.int64), keys[busy]))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        ticks = np.concatenate([p[0] for p in parts])
        spec_ids = np.concatenate([p[1] for p in parts])
        key_ids = np.concatenate([p[2] for p in parts])
        order = np.lexsort((key_ids, spec_ids, ticks))
        return ticks[order], spec_ids[order], key_ids[order]

    def _candidates(
        self,
        spec_id: int,
        times: np.ndarray,
        key_ids: np.ndarray,
        ticks: np.ndarray,
        keys: np.ndarray,
        first_us: int,
        step_us: int,
    ) -> np.ndarray:
        """Which change entries could make a group without state active: the window and baseline
        aggregates of every entry at once (the same prefix sums as `Series`, so the same numbers),
        then `could_be_active`'s comparisons with a little slack (a superset: each candidate is
        evaluated exactly in Python). Times are made one sorted array by offsetting each group by
        `span`; all entries are kept when that would overflow."""
        spec, series = self.specs[spec_id], self.series[spec_id]
        now_us = first_us + ticks * step_us
        window_us = self.window_us[spec_id]
        offsets = [(a // _US, b // _US) for a, b in spec.baseline_offsets()]
        base = min(int(times.min()), int(now_us.min()) - window_us + min(a for a, _ in offsets) - self.align_us) - 1
        span = max(int(times.max()), int(now_us.max())) - base + 1
        if span * (len(series) + 1) >= 2**62:
            return np.ones(len(ticks), dtype=bool)
        flat = key_ids * span + (times - base)  # sorted: by group, then time
        shift = keys  # prefix index = flat index + group index (each group's prefix starts with 0)
        negative = np.concatenate([np.asarray(s.negative, dtype=np.int64) for s in series])
        total = np.concatenate([np.asarray(s.total, dtype=np.float64) for s in series])

        def sums(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            i = np.searchsorted(flat, keys * span + (lo - base))
            j = np.searchsorted(flat, keys * span + (hi - base))
            return j - i, negative[j + shift] - negative[i + shift], total[j + shift] - total[i + shift]

        w_count, w_neg, w_sum = sums(now_us - window_us, now_us)
        x = now_us - window_us
        end = x - np.mod(x, self.align_us)
        b_count = np.zeros(len(ticks), dtype=np.int64)
        b_sum = np.zeros(len(ticks), dtype=np.float64)
        for a, b in offsets:
            c, _, t = sums(end + a, end + b)
            b_count += c
            b_sum += t
        slack = 1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(w_count > 0, w_neg / np.maximum(w_count, 1), 0.0)
            drop = np.where((w_count > 0) & (b_count > 0), b_sum / np.maximum(b_count, 1) - w_sum / np.maximum(w_count, 1),
                            -np.inf)
        out = np.zeros(len(ticks), dtype=bool)
        for rule in self.rules_of[spec_id]:
            ok = w_count >= rule.min_count
            if isinstance(rule, NegativeSpikeRule):
                ok &= share >= rule.min_negative_share - slack
                if rule.min_mean_drop is not None:
                    ok &= drop >= rule.min_mean_drop - slack
            elif isinstance(rule, VolumeSpikeRule):
                expected = (b_count + 1) * spec.window.total_seconds() / max(self.baseline_seconds[spec_id], 1.0)
                ok &= w_count / expected >= rule.min_ratio - slack
            else:
                ok &= drop >= rule.min_drop - slack
            out |= ok
        return out

    def _next_change(self, spec_id: int, key_id: int, tick: int) -> int:
        """The first tick after `tick` at which the group's inputs change (`n_ticks`: none)."""
        ticks, offsets = self.changes[spec_id]
        lo, hi = int(offsets[key_id]), int(offsets[key_id + 1])
        at = lo + int(np.searchsorted(ticks[lo:hi], tick, side="right"))
        return int(ticks[at]) if at < hi else self.n_ticks

    def _baseline(self, spec_id: int, key_id: int, now: datetime, now_us: int) -> Aggregate:
        x = now_us - self.window_us[spec_id]
        end = x - x % self.align_us
        cached = self.baselines.get((spec_id, key_id))
        if cached is None or cached[0] != end:
            cached = (end, self.series[spec_id][key_id].aggregate(periods_us(self.specs[spec_id], now)[1]))
            self.baselines[(spec_id, key_id)] = cached
        return cached[1]

    def _evaluate(self, tick: int, touched: Mapping[int, set[int]], events: list[EmittedEvent]) -> bool:
        now = self.first + tick * self.step
        now_us = to_us(now)
        anything = False
        for spec_id, key_ids in touched.items():
            spec, rules, all_series = self.specs[spec_id], self.rules_of[spec_id], self.series[spec_id]
            start_us = now_us - self.window_us[spec_id]
            for key_id in key_ids:
                series = all_series[key_id]
                i, j = bisect.bisect_left(series.times, start_us), bisect.bisect_left(series.times, now_us)
                window: Aggregate | None = None
                for rule in rules:
                    state = self.live.get((rule.name, key_id))
                    if state is None and j - i < rule.min_count:
                        continue
                    if window is None:
                        window = series.between(i, j)
                    baseline = self._baseline(spec_id, key_id, now, now_us)
                    if state is None:
                        seconds = spec.window.total_seconds()
                        if not could_be_active(rule, window, baseline, seconds, self.baseline_seconds[spec_id]):
                            continue  # evaluate would say inactive, and there is no state to move
                    else:
                        skipped = (now - (state.last_evaluated_at or now)) // self.step - 1
                        state = skip_unchanged(state, skipped, now - self.step)
                    stats = window_stats(spec, now, self.keys[spec_id][key_id], window, baseline)
                    anything = True
                    planned = plan_group(rule, stats, state, (), now, self.version, self.receivers)
                    if planned.event is not None:
                        events.append(planned.event)
                    self._remember(rule, spec_id, key_id, tick, planned.state)
        return anything

    def _remember(self, rule: AnyRule, spec_id: int, key_id: int, tick: int, state: AlertState | None) -> None:
        """Keep a pending/firing state, due again at its next input change or lifecycle deadline."""
        slot = (rule.name, key_id)
        if state is None or state.status not in LIVE_STATUSES:
            self.live.pop(slot, None)
            self.deadline.pop(slot, None)
            return
        self.live[slot] = state
        due = next_deadline(state, rule, self.step)
        index = self._next_change(spec_id, key_id, tick)
        if due is not None:
            index = min(index, (due - self.first) // self.step)
        self.deadline[slot] = index
        if index < self.n_ticks:
            heapq.heappush(self.heap, (index, rule.name, key_id))
