"""`MemoryStats`: the history `StatsSource`, per-group prefix sums over enrichments loaded once.

`load_rows` reads the enrichments of a model version and time range (with their distinct entity
tickers and the article's sentiment towards each, `pipeline.db.mentions`); `MemoryStats(rows)` then answers `rule_stats(spec, version, now)` with the numbers the
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
from pipeline.db.mentions import first_mentions
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
    ticker_sentiment: tuple[tuple[bool, float], ...] = ()
    """(negative, score) towards each of `tickers` (`pipeline.db.mentions`); empty: the article's."""

    def towards(self, k: int) -> tuple[bool, float]:
        """(negative, score) of the article towards `tickers[k]`."""
        return self.ticker_sentiment[k] if self.ticker_sentiment else (self.negative, self.score)


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
    enrichments, entities = Enrichment.__table__, Entity.__table__
    firsts = first_mentions(
        enrichments, entities, (n.ticker,), (n.enrichment_id, n.ticker), (*where, n.ticker.is_not(None))
    )
    tickers_q = select(firsts.c.enrichment_id, firsts.c.ticker, firsts.c.sentiment, firsts.c.sentiment_score)
    with engine.connect() as conn:
        tickers: dict[int, dict[str, tuple[bool, float]]] = {}
        for enrichment_id, ticker, ticker_sentiment, ticker_score in conn.execute(tickers_q):
            towards = (ticker_sentiment == "negative", float(ticker_score))
            tickers.setdefault(int(enrichment_id), {})[str(ticker)] = towards
        rows = []
        for r in conn.execute(query):
            named = sorted(tickers.get(int(r.id), {}).items())
            rows.append(
                ScoredRow(
                    to_us(r.published_at),
                    str(r.topic),
                    r.sentiment == "negative",
                    float(r.sentiment_score),
                    tuple(t for t, _ in named),
                    model_version,
                    tuple(v for _, v in named),
                )
            )
        return rows


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
    """The rows of one model version as numpy columns, and one (row, ticker, sentiment towards
    it) entry per article and ticker."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self.topics = sorted({r.topic for r in rows})
        topic_ids = {t: i for i, t in enumerate(self.topics)}
        self.at = np.fromiter((r.at for r in rows), dtype=np.int64, count=len(rows))
        self.topic = np.fromiter((topic_ids[r.topic] for r in rows), dtype=np.int64, count=len(rows))
        self.negative = np.fromiter((r.negative for r in rows), dtype=np.int64, count=len(rows))
        self.score = np.fromiter((r.score for r in rows), dtype=np.float64, count=len(rows))
        pairs = [(i, t, r.towards(k)) for i, r in enumerate(rows) for k, t in enumerate(r.tickers)]
        self.tickers = sorted({t for _, t, _ in pairs})
        ticker_ids = {t: i for i, t in enumerate(self.tickers)}
        n = len(pairs)
        self.mention_row = np.fromiter((i for i, _, _ in pairs), dtype=np.int64, count=n)
        self.mention_ticker = np.fromiter((ticker_ids[t] for _, t, _ in pairs), dtype=np.int64, count=n)
        self.mention_negative = np.fromiter((neg for _, _, (neg, _) in pairs), dtype=np.int64, count=n)
        self.mention_score = np.fromiter((score for _, _, (_, score) in pairs), dtype=np.float64, count=n)

    def groups(self, spec: StatsSpec) -> dict[GroupKey, Series]:
        """Per group of `spec`, the prefix sums over its rows in time order (sorted by labels)."""
        covered = np.array([spec.covers(t) for t in self.topics], dtype=bool)
        if spec.by_ticker:  # one entry per (article, ticker), with the article's sentiment towards it
            pick = np.flatnonzero(covered[self.topic[self.mention_row]]) if len(self.mention_row) else self.mention_row
            rows = self.mention_row[pick]
            group = self.topic[rows] * max(len(self.tickers), 1) + self.mention_ticker[pick]
            negative, score = self.mention_negative[pick], self.mention_score[pick]
        else:
            rows = np.flatnonzero(covered[self.topic]) if len(self.topic) else self.topic
            group = self.topic[rows]
            negative, score = self.negative[rows], self.score[rows]
        order = np.lexsort((rows, self.at[rows], group))  # by group, then time, then row
        rows, group, negative, score = rows[order], group[order], negative[order], score[order]
        bounds = np.flatnonzero(np.diff(group)) + 1
        out: dict[GroupKey, Series] = {}
        for part, part_group in zip(np.split(np.arange(len(rows)), bounds), np.split(group, bounds), strict=True):
            if not len(part):
                continue
            g = int(part_group[0])
            if spec.by_ticker:
                topic, ticker = divmod(g, max(len(self.tickers), 1))
                labels: GroupKey = (("ticker", self.tickers[ticker]), ("topic", self.topics[topic]))
            else:
                labels = (("topic", self.topics[g]),)
            scores = score[part]
            out[labels] = Series(
                self.at[rows[part]].tolist(),
                [0, *np.cumsum(negative[part]).tolist()],
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
