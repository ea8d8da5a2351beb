"""Window and baseline statistics from Postgres (or SQLite) aggregates, keyed by event time.

Per distinct (window, baseline, group_by, topics) spec, two grouped queries give, for every group
(topic, or topic + ticker), the article count, negative count and the sum and sum of squares of
`sentiment_score`:

- the window `[now - window, now)`, every tick (a small index range: cheap);
- the baseline: the `baseline` before the window, both ends floored to `BASELINE_ALIGN` (5 min),
  or with `same_hour_of_week` the window 1..N weeks back (also floored). Being a function of
  `now` floored, the baseline is the same for every tick inside one 5-minute step, so
  `StatsReader` computes it once per step and caches it; a backtest computes the same numbers.

The range predicates on (model_version, topic, published_at) use the `ix_enrichments_window`
index. Only groups with an article in the window are returned (a rule is never active on an empty
window); `RuleStats.get` gives any group, e.g. that of a firing alert whose window went quiet.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, and_, case, func, or_, select

from alerts.rules import AnyRule
from pipeline.db.models import Enrichment, Entity

GroupKey = tuple[tuple[str, str], ...]
"""Group labels as sorted (name, value) pairs, e.g. (("ticker", "ACME"), ("topic", "Earnings"))."""

WEEK: Final = timedelta(days=7)
BASELINE_ALIGN: Final = timedelta(minutes=5)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(t: datetime, step: timedelta = BASELINE_ALIGN) -> datetime:
    """`t` floored to a multiple of `step` since the Unix epoch."""
    return t - (t - _EPOCH) % step


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
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def window_seconds(self) -> float:
        return (self.window_end - self.window_start).total_seconds()


@dataclass(frozen=True, slots=True)
class StatsSpec:
    """What a query needs from a rule; rules sharing a spec share one query per tick."""

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

    def baseline_ranges(self, now: datetime) -> tuple[tuple[datetime, datetime], ...]:
        end = floor_time(now - self.window)
        if not self.same_hour_of_week:
            return ((end - self.baseline, end),)
        weeks = max(int(self.baseline / WEEK), 1)
        return tuple((end - k * WEEK, end - k * WEEK + self.window) for k in range(1, weeks + 1))


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
        ranges = self.spec.baseline_ranges(self.now)
        return WindowStats(
            labels=labels,
            window_start=self.now - self.spec.window,
            window_end=self.now,
            window=self.window.get(labels, Aggregate()),
            baseline=self.baseline.get(labels, Aggregate()),
            baseline_seconds=sum((b - a).total_seconds() for a, b in ranges),
        )


def _aggregates(
    conn: Connection, spec: StatsSpec, model_version: str, ranges: tuple[tuple[datetime, datetime], ...]
) -> dict[GroupKey, Aggregate]:
    """Per-group aggregates over the union of `ranges` (one grouped query)."""
    e = Enrichment.__table__.alias("e")
    in_ranges = or_(*(and_(e.c.published_at >= a, e.c.published_at < b) for a, b in ranges))
    conditions = [e.c.model_version == model_version, in_ranges]
    if spec.topics != ("*",):
        conditions.append(e.c.topic.in_(spec.topics))
    if spec.exclude_topics:
        conditions.append(e.c.topic.not_in(spec.exclude_topics))
    rows: Any
    if "ticker" in spec.group_by:
        # one row per (article, ticker): an article naming a ticker twice counts once
        en = Entity.__table__.alias("en")
        rows = (
            select(e.c.id, e.c.topic, en.c.ticker, e.c.sentiment, e.c.sentiment_score)
            .select_from(e.join(en, en.c.enrichment_id == e.c.id))
            .where(*conditions, en.c.ticker.is_not(None))
            .distinct()
            .subquery("x")
        )
        group_cols: list[Any] = [rows.c.topic, rows.c.ticker]
    else:
        rows = select(e.c.topic, e.c.sentiment, e.c.sentiment_score).where(*conditions).subquery("x")
        group_cols = [rows.c.topic]
    score = rows.c.sentiment_score
    query = select(
        *group_cols,
        func.count(),
        func.coalesce(func.sum(case((rows.c.sentiment == "negative", 1), else_=0)), 0),
        func.coalesce(func.sum(score), 0.0),
        func.coalesce(func.sum(score * score), 0.0),
    ).group_by(*group_cols)
    out: dict[GroupKey, Aggregate] = {}
    n_group = len(group_cols)
    for row in conn.execute(query):
        values = list(row)
        labels = zip(("topic", "ticker")[:n_group], (str(v) for v in values[:n_group]), strict=True)
        count, neg, total, squares = values[n_group:]
        out[tuple(sorted(labels))] = Aggregate(int(count), int(neg), float(total), float(squares))
    return out


def query_stats(conn: Connection, spec: StatsSpec, model_version: str, now: datetime) -> RuleStats:
    """Window and baseline aggregates of `spec` at `now` (no cache)."""
    window = _aggregates(conn, spec, model_version, ((now - spec.window, now),))
    baseline = _aggregates(conn, spec, model_version, spec.baseline_ranges(now))
    return RuleStats(spec, now, window, baseline)


class StatsReader:
    """Reads `RuleStats` for all rules, one query pair per distinct spec, caching baselines
    (keyed by spec, model version and the floored ranges, so a hit equals a fresh read).
    """

    def __init__(self, cache_size: int = 64) -> None:
        self._baselines: OrderedDict[tuple[Any, ...], dict[GroupKey, Aggregate]] = OrderedDict()
        self.cache_size = cache_size

    def baseline(
        self, conn: Connection, spec: StatsSpec, model_version: str, now: datetime
    ) -> dict[GroupKey, Aggregate]:
        ranges = spec.baseline_ranges(now)
        key = (spec, model_version, ranges)
        if key in self._baselines:
            self._baselines.move_to_end(key)
            return self._baselines[key]
        value = _aggregates(conn, spec, model_version, ranges)
        self._baselines[key] = value
        while len(self._baselines) > self.cache_size:
            self._baselines.popitem(last=False)
        return value

    def read(
        self, conn: Connection, rules: Mapping[str, AnyRule], model_version: str, now: datetime
    ) -> dict[str, RuleStats]:
        by_spec: dict[StatsSpec, RuleStats] = {}
        out: dict[str, RuleStats] = {}
        for name, rule in rules.items():
            spec = StatsSpec.of(rule)
            if spec not in by_spec:
                window = _aggregates(conn, spec, model_version, ((now - spec.window, now),))
                by_spec[spec] = RuleStats(spec, now, window, self.baseline(conn, spec, model_version, now))
            out[name] = by_spec[spec]
        return out


def latest_model_version(conn: Connection) -> str | None:
    """The model version of the most recently stored enrichment (None: nothing stored)."""
    row = conn.execute(select(Enrichment.model_version).order_by(Enrichment.id.desc()).limit(1)).first()
    return None if row is None else str(row[0])


def stats_for_rules(
    conn: Connection, rules: Mapping[str, AnyRule], model_version: str, now: datetime
) -> dict[str, RuleStats]:
    """Stats per rule name, without a cache (one query pair per distinct spec)."""
    return StatsReader().read(conn, rules, model_version, now)
