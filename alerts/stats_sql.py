"""`SqlStats`: the live `StatsSource`, grouped SQL aggregates on `enrichments` (Postgres or SQLite).

Per spec, two grouped queries give, for every group (topic, or topic + ticker), the article
count, the negative count and the sum and sum of squares of `sentiment_score`: the window, every
tick (a small index range on `ix_enrichments_window` / `ix_enrichments_model_version_published_at`),
and the baseline, cached per (spec, model version, floored ranges), so a hit equals a fresh read.
In a (topic, ticker) group an article counts once, with its sentiment towards that ticker: the
model's where it gave one (the entity's own, else its sentence's), else the headline's
(`pipeline.db.mentions`).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, or_, select

from alerts.stats import Aggregate, GroupKey, RuleStats, StatsSpec
from pipeline.db.mentions import first_mentions
from pipeline.db.models import Enrichment, Entity

Ranges = tuple[tuple[datetime, datetime], ...]


def aggregates(conn: Connection, spec: StatsSpec, model_version: str, ranges: Ranges) -> dict[GroupKey, Aggregate]:
    """Per-group aggregates over the union of `ranges` (disjoint), one grouped query."""
    e = Enrichment.__table__.alias("e")
    in_ranges = or_(*(and_(e.c.published_at >= a, e.c.published_at < b) for a, b in ranges))
    conditions = [e.c.model_version == model_version, in_ranges]
    if spec.topics != ("*",):
        conditions.append(e.c.topic.in_(spec.topics))
    if spec.exclude_topics:
        conditions.append(e.c.topic.not_in(spec.exclude_topics))
    rows: Any
    if spec.by_ticker:
        en = Entity.__table__.alias("en")
        rows = first_mentions(
            e, en, (en.c.ticker,), (e.c.topic, en.c.ticker), (*conditions, en.c.ticker.is_not(None)), "x"
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


class SqlStats:
    """`StatsSource` over a database; baselines cached (LRU of `cache_size` entries)."""

    def __init__(self, engine: Engine, cache_size: int = 64) -> None:
        self.engine = engine
        self.cache_size = cache_size
        self._baselines: OrderedDict[tuple[Any, ...], dict[GroupKey, Aggregate]] = OrderedDict()

    def rule_stats(self, spec: StatsSpec, model_version: str, now: datetime) -> RuleStats:
        with self.engine.connect() as conn:
            window = aggregates(conn, spec, model_version, ((now - spec.window, now),))
            baseline = self._baseline(conn, spec, model_version, spec.baseline_ranges(now))
        return RuleStats(spec, now, window, baseline)

    def _baseline(
        self, conn: Connection, spec: StatsSpec, model_version: str, ranges: Ranges
    ) -> dict[GroupKey, Aggregate]:
        key = (spec, model_version, ranges)
        if key in self._baselines:
            self._baselines.move_to_end(key)
            return self._baselines[key]
        value = aggregates(conn, spec, model_version, ranges)
        self._baselines[key] = value
        while len(self._baselines) > self.cache_size:
            self._baselines.popitem(last=False)
        return value
