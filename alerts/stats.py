"""Window and baseline statistics from Postgres (or SQLite) aggregates, keyed by event time.

One query per distinct (window, baseline, group_by, topics) spec returns, for every group
(topic, or topic + ticker), the article count, negative count and the sum and sum of squares of
`sentiment_score` in the window `[now - window, now)` and in the baseline. The baseline is the
stretch right before the window, `[now - window - baseline, now - window)`, or with
`same_hour_of_week` the same window 1..N weeks back. The range predicate on
(model_version, topic, published_at) uses the `ix_enrichments_window` index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, and_, case, func, or_, select

from alerts.rules import AnyRule
from pipeline.db.models import Enrichment, Entity

GroupKey = tuple[tuple[str, str], ...]
"""Group labels as sorted (name, value) pairs, e.g. (("ticker", "ACME"), ("topic", "Earnings"))."""

WEEK: Final = timedelta(days=7)


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

    def baseline_ranges(self, now: datetime) -> list[tuple[datetime, datetime]]:
        window_start = now - self.window
        if not self.same_hour_of_week:
            return [(window_start - self.baseline, window_start)]
        weeks = max(int(self.baseline / WEEK), 1)
        return [(window_start - k * WEEK, now - k * WEEK) for k in range(1, weeks + 1)]


def empty_stats(spec: StatsSpec, labels: GroupKey, now: datetime) -> WindowStats:
    return WindowStats(
        labels=labels,
        window_start=now - spec.window,
        window_end=now,
        window=Aggregate(),
        baseline=Aggregate(),
        baseline_seconds=sum((b - a).total_seconds() for a, b in spec.baseline_ranges(now)),
    )


def query_stats(conn: Connection, spec: StatsSpec, model_version: str, now: datetime) -> dict[GroupKey, WindowStats]:
    """Aggregates for every group with at least one article in the window or the baseline."""
    e = Enrichment.__table__.alias("e")
    window_start = now - spec.window
    ranges = spec.baseline_ranges(now)
    in_window = and_(e.c.published_at >= window_start, e.c.published_at < now)
    in_base = or_(*(and_(e.c.published_at >= a, e.c.published_at < b) for a, b in ranges))
    negative = e.c.sentiment == "negative"
    score = e.c.sentiment_score

    def agg(cond: Any) -> list[Any]:
        return [
            func.coalesce(func.sum(case((cond, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(cond, negative), 1), else_=0)), 0),
            func.coalesce(func.sum(case((cond, score), else_=0.0)), 0.0),
            func.coalesce(func.sum(case((cond, score * score), else_=0.0)), 0.0),
        ]

    group_cols: list[Any] = [e.c.topic]
    source: Any = e
    if "ticker" in spec.group_by:
        tickers = (
            select(Entity.enrichment_id.label("enrichment_id"), Entity.ticker.label("ticker"))
            .where(Entity.ticker.is_not(None))
            .distinct()
            .subquery("t")
        )
        source = e.join(tickers, tickers.c.enrichment_id == e.c.id)
        group_cols.append(tickers.c.ticker)

    conditions = [e.c.model_version == model_version, or_(in_window, in_base)]
    if spec.topics != ("*",):
        conditions.append(e.c.topic.in_(spec.topics))
    if spec.exclude_topics:
        conditions.append(e.c.topic.not_in(spec.exclude_topics))
    query = select(*group_cols, *agg(in_window), *agg(in_base)).select_from(source).where(*conditions)
    query = query.group_by(*group_cols)

    baseline_seconds = sum((b - a).total_seconds() for a, b in ranges)
    out: dict[GroupKey, WindowStats] = {}
    n_group = len(group_cols)
    for row in conn.execute(query):
        values = list(row)
        labels = dict(zip(("topic", "ticker")[:n_group], (str(v) for v in values[:n_group]), strict=True))
        key = tuple(sorted(labels.items()))
        w, b = values[n_group : n_group + 4], values[n_group + 4 :]
        out[key] = WindowStats(
            labels=key,
            window_start=window_start,
            window_end=now,
            window=Aggregate(int(w[0]), int(w[1]), float(w[2]), float(w[3])),
            baseline=Aggregate(int(b[0]), int(b[1]), float(b[2]), float(b[3])),
            baseline_seconds=baseline_seconds,
        )
    return out


def latest_model_version(conn: Connection) -> str | None:
    """The model version of the most recently stored enrichment (None: nothing stored)."""
    row = conn.execute(select(Enrichment.model_version).order_by(Enrichment.id.desc()).limit(1)).first()
    return None if row is None else str(row[0])


def stats_for_rules(
    conn: Connection, rules: Mapping[str, AnyRule], model_version: str, now: datetime
) -> dict[str, dict[GroupKey, WindowStats]]:
    """Stats per rule name; one query per distinct spec."""
    cache: dict[StatsSpec, dict[GroupKey, WindowStats]] = {}
    out: dict[str, dict[GroupKey, WindowStats]] = {}
    for name, rule in rules.items():
        spec = StatsSpec.of(rule)
        if spec not in cache:
            cache[spec] = query_stats(conn, spec, model_version, now)
        out[name] = cache[spec]
    return out
