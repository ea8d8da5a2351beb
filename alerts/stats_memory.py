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

import numpy as np
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

    def between(self, i: int, j: int) -> Aggregate:
        """The sums over rows `i` to `j - 1` (indexes into `times`)."""
        return Aggregate(
            j - i, self.negative[j] - self.negative[i], self.total[j] - self.total[i], self.squares[j] - self.squares[i]
        )

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


def periods_us(spec: StatsSpec, now: datetime) -> tuple[tuple[int, int], tuple[tuple[int, int], ...]]:
    """(window, baseline ranges) of `spec` at `now` in microseconds."""
    window = (to_us(now - spec.window), to_us(now))
    return window, tuple((to_us(a), to_us(b)) for a, b in spec.baseline_ranges(now))


class _Columns:
    """The rows of one model version as numpy columns, and one (row, ticker) pair per mention."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self.topics = sorted({r.topic for r in rows})
        topic_ids = {t: i for i, t in enumerate(self.topics)}
        self.at = np.fromiter((r.at for r in rows), dtype=np.int64, count=len(rows))
        self.topic = np.fromiter((topic_ids[r.topic] for r in rows), dtype=np.int64, count=len(rows))
        self.negative = np.fromiter((r.negative for r in rows), dtype=np.int64, count=len(rows))
        self.score = np.fromiter((r.score for r in rows), dtype=np.float64, count=len(rows))
        pairs = [(i, t) for i, r in enumerate(rows) for t in r.tickers]
        self.tickers = sorted({t for _, t in pairs})
        ticker_ids = {t: i for i, t in enumerate(self.tickers)}
        self.mention_row = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=len(pairs))
        self.mention_ticker = np.fromiter((ticker_ids[t] for _, t in pairs), dtype=np.int64, count=len(pairs))

    def groups(self, spec: StatsSpec) -> dict[GroupKey, Series]:
        """Per group of `spec`, the prefix sums over its rows in time order (sorted by labels)."""
        covered = np.array([spec.covers(t) for t in self.topics], dtype=bool)
        if spec.by_ticker:
            rows = self.mention_row[covered[self.topic[self.mention_row]]] if len(self.mention_row) else self.mention_row
            tickers = self.mention_ticker[covered[self.topic[self.mention_row]]] if len(self.mention_row) else rows
            group = self.topic[rows] * max(len(self.tickers), 1) + tickers
        else:
            rows = np.flatnonzero(covered[self.topic]) if len(self.topic) else self.topic
            group = self.topic[rows]
        order = np.lexsort((rows, self.at[rows], group))  # by group, then time, then row
        rows, group = rows[order], group[order]
        bounds = np.flatnonzero(np.diff(group)) + 1
        out: dict[GroupKey, Series] = {}
        for part_rows, part_group in zip(np.split(rows, bounds), np.split(group, bounds), strict=True):
            if not len(part_rows):
                continue
            g = int(part_group[0])
            if spec.by_ticker:
                topic, ticker = divmod(g, max(len(self.tickers), 1))
                labels: GroupKey = (("ticker", self.tickers[ticker]), ("topic", self.topics[topic]))
            else:
                labels = (("topic", self.topics[g]),)
            scores = self.score[part_rows]
            out[labels] = Series(
                self.at[part_rows].tolist(),
                [0, *np.cumsum(self.negative[part_rows]).tolist()],
                [0.0, *np.cumsum(scores).tolist()],
                [0.0, *np.cumsum(scores * scores).tolist()],
            )
        return dict(sorted(out.items()))


class MemoryStats:
    """`StatsSource` over rows held in memory (any number of model versions)."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self._rows = rows
        self._columns: dict[str, _Columns] = {}
        self._index: dict[tuple[StatsSpec, str], dict[GroupKey, Series]] = {}

    def groups(self, spec: StatsSpec, model_version: str) -> dict[GroupKey, Series]:
        """Every group of `spec` under `model_version`, sorted, with its prefix sums."""
        key = (spec, model_version)
        if key not in self._index:
            if model_version not in self._columns:
                self._columns[model_version] = _Columns([r for r in self._rows if r.model_version == model_version])
            self._index[key] = self._columns[model_version].groups(spec)
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
