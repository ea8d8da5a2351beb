"""Per-topic sentiment shift between two model versions over the same articles.

For every article scored by both versions (optionally within an event-time range and topics,
the topic being version A's): n, the share whose sentiment label changed, the mean sentiment
score under A and B and its delta (B - A), and how many changed topic. `ALL` sums every topic.
The accumulation is pure (`ShiftAccumulator`), fed by one streamed SQL join.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from pipeline.db.models import Enrichment

ALL_TOPICS = "ALL"


@dataclass(frozen=True, slots=True)
class PairRow:
    """One article under both versions."""

    topic_a: str
    topic_b: str
    sentiment_a: str
    sentiment_b: str
    score_a: float
    score_b: float


@dataclass(frozen=True, slots=True)
class TopicShift:
    topic: str
    n: int
    changed_labels: int
    changed_share: float
    mean_score_a: float
    mean_score_b: float
    mean_delta: float
    changed_topics: int


@dataclass
class _Sums:
    n: int = 0
    changed: int = 0
    sum_a: float = 0.0
    sum_b: float = 0.0
    topics: int = 0

    def add(self, row: PairRow) -> None:
        self.n += 1
        self.changed += row.sentiment_a != row.sentiment_b
        self.sum_a += row.score_a
        self.sum_b += row.score_b
        self.topics += row.topic_a != row.topic_b

    def shift(self, topic: str) -> TopicShift:
        n = self.n or 1
        mean_a, mean_b = self.sum_a / n, self.sum_b / n
        return TopicShift(
            topic=topic,
            n=self.n,
            changed_labels=self.changed,
            changed_share=round(self.changed / n, 6),
            mean_score_a=round(mean_a, 6),
            mean_score_b=round(mean_b, 6),
            mean_delta=round(mean_b - mean_a, 6),
            changed_topics=self.topics,
        )


class ShiftAccumulator:
    """Feed `PairRow`s, then `result()`: one `TopicShift` per topic of version A (sorted), then ALL."""

    def __init__(self) -> None:
        self._by_topic: dict[str, _Sums] = {}
        self._all = _Sums()

    def add(self, row: PairRow) -> None:
        self._by_topic.setdefault(row.topic_a, _Sums()).add(row)
        self._all.add(row)

    def extend(self, rows: Iterable[PairRow]) -> ShiftAccumulator:
        for row in rows:
            self.add(row)
        return self

    def result(self) -> list[TopicShift]:
        shifts = [self._by_topic[t].shift(t) for t in sorted(self._by_topic)]
        return [*shifts, self._all.shift(ALL_TOPICS)]


def pair_rows(
    engine: Engine,
    version_a: str,
    version_b: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    topics: Sequence[str] = (),
) -> Iterable[PairRow]:
    """Stream the articles scored by both versions (in news-id order)."""
    a, b = aliased(Enrichment, name="a"), aliased(Enrichment, name="b")
    query = (
        select(a.topic, b.topic, a.sentiment, b.sentiment, a.sentiment_score, b.sentiment_score)
        .join(b, (b.news_id == a.news_id) & (b.model_version == version_b))
        .where(a.model_version == version_a)
        .order_by(a.news_id)
    )
    if start is not None:
        query = query.where(a.published_at >= start)
    if end is not None:
        query = query.where(a.published_at < end)
    if topics:
        query = query.where(a.topic.in_(list(topics)))
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=5_000).execute(query):
            yield PairRow(str(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]), float(row[5]))


def compare_versions(
    engine: Engine,
    version_a: str,
    version_b: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    topics: Sequence[str] = (),
) -> list[TopicShift]:
    rows = pair_rows(engine, version_a, version_b, start=start, end=end, topics=topics)
    return ShiftAccumulator().extend(rows).result()


COLUMNS = (
    ("topic", "topic"),
    ("n", "n"),
    ("changed_share", "changed"),
    ("mean_score_a", "mean A"),
    ("mean_score_b", "mean B"),
    ("mean_delta", "delta"),
    ("changed_topics", "topic changed"),
)


def format_table(shifts: Sequence[TopicShift], version_a: str, version_b: str) -> str:
    """A plain aligned text table (numbers right-aligned)."""

    def cell(shift: TopicShift, name: str) -> str:
        value = getattr(shift, name)
        if name == "changed_share":
            return f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:+.3f}"
        return str(value)

    header = [title for _, title in COLUMNS]
    body = [[cell(s, name) for name, _ in COLUMNS] for s in shifts]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    lines = [f"A = {version_a}   B = {version_b}", line(header), rule]
    lines += [line(row) for row in body[:-1]]
    lines += [rule, line(body[-1])] if body else []
    return "\n".join(lines)


def to_json(shifts: Sequence[TopicShift], version_a: str, version_b: str) -> str:
    return json.dumps(
        {"a": version_a, "b": version_b, "topics": [asdict(s) for s in shifts]}, sort_keys=True, separators=(",", ":")
    )
