"""`MemoryStats`: the history `StatsSource`, per-group prefix sums over enrichments loaded once.

`load_rows` reads the enrichments of a model version and time range (with their distinct entity
tickers); `MemoryStats(rows)` then answers `rule_stats(spec, version, now)` with the numbers the
SQL source gives (two bisects per period and group), and `aggregate(...)` for one group, which
is what the event-driven backtest asks for. Times are integer microseconds since the epoch, so
range edges compare exactly as in SQL.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from alerts.stats import EPOCH, Aggregate, GroupKey, RuleStats, StatsSpec
from pipeline.db.models import Enrichment, Entity

US: timedelta = timedelta(microseconds=1)


def to_us(when: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (when - EPOCH) // US


@dataclass(frozen=True, slots=True)
class ScoredRow:
    """One enrichment as the rules see it."""

    at: int
    """`published_at` in microseconds since the epoch."""
    topic: str
    negative: bool
    score: float
    tickers: tuple[str, ...] = ()
    model_version: str = ""


def load_rows(
    engine: Engine, model_version: str, start: datetime, end: datetime, topics: Sequence[str] = ()
) -> list[ScoredRow]:
    """Enrichments of `model_version` with `start <= published_at < end` (and one of `topics`,
    when given), in (published_at, id) order, each with its distinct entity tickers."""
    e, n = Enrichment.__table__.c, Entity.__table__.c
    where = [e.model_version == model_version, e.published_at >= start, e.published_at < end]
    if topics:
        where.append(e.topic.in_(list(topics)))
    query = (
        select(e.id, e.published_at, e.topic, e.sentiment, e.sentiment_score)
        .where(*where)
        .order_by(e.published_at, e.id)
    )
    tickers_q = (
        select(n.enrichment_id, n.ticker)
        .join(Enrichment.__table__, e.id == n.enrichment_id)
        .where(*where, n.ticker.is_not(None))
        .distinct()
    )
    with engine.connect() as conn:
        tickers: dict[int, set[str]] = {}
        for enrichment_id, ticker in conn.execute(tickers_q):
            tickers.setdefault(int(enrichment_id), set()).add(str(ticker))
        return [
            ScoredRow(
                to_us(r.published_at),
                str(r.topic),
                r.sentiment == "negative",
                float(r.sentiment_score),
                tuple(sorted(tickers.get(int(r.id), ()))),
                model_version,
            )
            for r in conn.execute(query)
        ]


@dataclass
class Series:
    """Prefix sums of one group over its rows in time order."""

    times: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=lambda: [0])
    total: list[float] = field(default_factory=lambda: [0.0])
    squares: list[float] = field(default_factory=lambda: [0.0])

    def append(self, row: ScoredRow) -> None:
        self.times.append(row.at)
        self.negative.append(self.negative[-1] + row.negative)
        self.total.append(self.total[-1] + row.score)
        self.squares.append(self.squares[-1] + row.score * row.score)

    def count(self, start: int, end: int) -> int:
        return bisect.bisect_left(self.times, end) - bisect.bisect_left(self.times, start)

    def aggregate(self, ranges: Iterable[tuple[int, int]]) -> Aggregate:
        """Sums over the union of disjoint `[start, end)` microsecond ranges."""
        c = k = 0
        s = q = 0.0
        for start, end in ranges:
            i, j = bisect.bisect_left(self.times, start), bisect.bisect_left(self.times, end)
            c += j - i
            k += self.negative[j] - self.negative[i]
            s += self.total[j] - self.total[i]
            q += self.squares[j] - self.squares[i]
        return Aggregate(c, k, s, q)


def group_keys(spec: StatsSpec, row: ScoredRow) -> list[GroupKey]:
    """The groups of `spec` a row counts in (none when the spec does not cover its topic)."""
    if not spec.covers(row.topic):
        return []
    if spec.by_ticker:
        return [(("ticker", t), ("topic", row.topic)) for t in row.tickers]
    return [(("topic", row.topic),)]


def periods_us(spec: StatsSpec, now: datetime) -> tuple[tuple[int, int], tuple[tuple[int, int], ...]]:
    """(window, baseline ranges) of `spec` at `now` in microseconds."""
    window = (to_us(now - spec.window), to_us(now))
    return window, tuple((to_us(a), to_us(b)) for a, b in spec.baseline_ranges(now))


class MemoryStats:
    """`StatsSource` over rows held in memory (any number of model versions)."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self._rows = rows
        self._index: dict[tuple[StatsSpec, str], dict[GroupKey, Series]] = {}

    def groups(self, spec: StatsSpec, model_version: str) -> dict[GroupKey, Series]:
        """Every group of `spec` under `model_version`, sorted, with its prefix sums."""
        key = (spec, model_version)
        if key not in self._index:
            groups: dict[GroupKey, Series] = {}
            for row in self._rows:
                if row.model_version == model_version:
                    for labels in group_keys(spec, row):
                        groups.setdefault(labels, Series()).append(row)
            self._index[key] = dict(sorted(groups.items()))
        return self._index[key]

    def rule_stats(self, spec: StatsSpec, model_version: str, now: datetime) -> RuleStats:
        window: dict[GroupKey, Aggregate] = {}
        baseline: dict[GroupKey, Aggregate] = {}
        w_range, b_ranges = periods_us(spec, now)
        for labels, series in self.groups(spec, model_version).items():
            w, b = series.aggregate((w_range,)), series.aggregate(b_ranges)
            if w.count:
                window[labels] = w
            if b.count:
                baseline[labels] = b
        return RuleStats(spec, now, window, baseline)
