"""Window and baseline statistics: what a rule sees, and the `StatsSource` protocol that gives it.

Two implementations answer the same question, "the aggregates of `spec` under `model_version` at
event time `now`", and a property-based test proves them equal (`tests/unit/alerts/test_stats_sources.py`):

- `alerts.stats_sql.SqlStats`: grouped SQL queries on `enrichments` (the live worker);
- `alerts.stats_memory.MemoryStats`: per-group prefix sums over rows loaded once (backtests).

Periods, for a rule with window `W` and baseline `B` evaluated at `now`:

- the window is `[now - W, now)`;
- the baseline is `[end - B, end)` with `end = floor(now - W, 5 min)`, or with `same_hour_of_week`
  the windows `[end - k weeks, end - k weeks + W)` for k = 1..B/7d. Being a function of `now`
  floored, the baseline is the same for every tick inside one 5-minute step (the SQL source
  caches it).

Only groups with an article in the window are listed in `RuleStats.window` (a rule is never active
on an empty window); `RuleStats.get` gives any group, e.g. that of a firing alert gone quiet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from alerts.rules import AnyRule

GroupKey = tuple[tuple[str, str], ...]
"""Group labels as sorted (name, value) pairs, e.g. (("ticker", "ACME"), ("topic", "Earnings"))."""

WEEK: Final = timedelta(days=7)
BASELINE_ALIGN: Final = timedelta(minutes=5)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(t: datetime, step: timedelta = BASELINE_ALIGN) -> datetime:
    """`t` floored to a multiple of `step` since the Unix epoch."""
    return t - (t - EPOCH) % step


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Counts and score sums of one group over one period."""

    count: int = 0
    negative: int = 0
    score_sum: float = 0.0
    score_sumsq: float = 0.0

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.count if self.count else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.count if self.count else None

    @property
    def score_variance(self) -> float | None:
        if self.count < 2:
            return None
        mean = self.score_sum / self.count
        return max(self.score_sumsq / self.count - mean * mean, 0.0) * self.count / (self.count - 1)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What `evaluate` sees for one group at one instant."""

    labels: GroupKey
    window_start: datetime
    window_end: datetime
    window: Aggregate
    baseline: Aggregate
    baseline_seconds: float
    """Total length of the baseline periods (for rates)."""

    @property
    def window_seconds(self) -> float:
        return (self.window_end - self.window_start).total_seconds()


@dataclass(frozen=True, slots=True)
class StatsSpec:
    """What the statistics need from a rule; rules sharing a spec share one computation."""

    window: timedelta
    baseline: timedelta
    same_hour_of_week: bool
    group_by: tuple[str, ...]
    topics: tuple[str, ...]
    exclude_topics: tuple[str, ...]

    @classmethod
    def of(cls, rule: AnyRule) -> StatsSpec:
        return cls(
            window=rule.window,
            baseline=rule.baseline,
            same_hour_of_week=rule.same_hour_of_week,
            group_by=tuple(sorted(rule.group_by)),
            topics=tuple(sorted(rule.topics)),
            exclude_topics=tuple(sorted(rule.exclude_topics)),
        )

    @property
    def by_ticker(self) -> bool:
        return "ticker" in self.group_by

    def covers(self, topic: str) -> bool:
        if topic in self.exclude_topics:
            return False
        return self.topics == ("*",) or topic in self.topics

    def baseline_end(self, now: datetime) -> datetime:
        return floor_time(now - self.window)

    def baseline_offsets(self) -> tuple[tuple[timedelta, timedelta], ...]:
        """The baseline periods relative to `baseline_end`: `[end + a, end + b)` for each (a, b)."""
        if not self.same_hour_of_week:
            return ((-self.baseline, timedelta(0)),)
        weeks = max(int(self.baseline / WEEK), 1)
        return tuple((-k * WEEK, -k * WEEK + self.window) for k in range(1, weeks + 1))

    def baseline_ranges(self, now: datetime) -> tuple[tuple[datetime, datetime], ...]:
        end = self.baseline_end(now)
        return tuple((end + a, end + b) for a, b in self.baseline_offsets())

    @property
    def baseline_seconds(self) -> float:
        return sum((b - a).total_seconds() for a, b in self.baseline_offsets())

    @property
    def reach(self) -> timedelta:
        """How far before `now` the oldest period can start (baseline floor slack included)."""
        return self.window + BASELINE_ALIGN - min(a for a, _ in self.baseline_offsets())


@dataclass(frozen=True, slots=True)
class RuleStats:
    """The window and baseline aggregates of one spec at one instant, by group."""

    spec: StatsSpec
    now: datetime
    window: Mapping[GroupKey, Aggregate]
    baseline: Mapping[GroupKey, Aggregate]

    @property
    def groups(self) -> list[GroupKey]:
        """Groups with at least one article in the window."""
        return list(self.window)

    def get(self, labels: GroupKey) -> WindowStats:
        return window_stats(self.spec, self.now, labels, self.window.get(labels), self.baseline.get(labels))


def window_stats(
    spec: StatsSpec, now: datetime, labels: GroupKey, window: Aggregate | None, baseline: Aggregate | None
) -> WindowStats:
    return WindowStats(
        labels=labels,
        window_start=now - spec.window,
        window_end=now,
        window=window or Aggregate(),
        baseline=baseline or Aggregate(),
        baseline_seconds=spec.baseline_seconds,
    )


class StatsSource(Protocol):
    """Window and baseline aggregates of a spec under a model version at an event time."""

    def rule_stats(self, spec: StatsSpec, model_version: str, now: datetime) -> RuleStats: ...


def stats_for_rules(
    source: StatsSource, rules: Mapping[str, AnyRule], model_version: str, now: datetime
) -> dict[str, RuleStats]:
    """`RuleStats` per rule name, one computation per distinct spec."""
    by_spec: dict[StatsSpec, RuleStats] = {}
    out: dict[str, RuleStats] = {}
    for name, rule in rules.items():
        spec = StatsSpec.of(rule)
        if spec not in by_spec:
            by_spec[spec] = source.rule_stats(spec, model_version, now)
        out[name] = by_spec[spec]
    return out
