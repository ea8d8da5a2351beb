"""Where a replay reads from: an archive file, the stored articles, or a Kafka topic from a time.

Every source yields `SourceItem`s in a stable order, each with the source position *after* it,
so a checkpoint is the position of the last stored item and `items(position)` resumes there.
An item that cannot become a `RawNews` comes with a dead letter instead (contracts at the edge).

- `ArchiveSource`: CSV/JSONL files (`read_archive` + `normalize`, the `finsent ingest --file`
  path); position `{"records": n}` (rows read over all files).
- `StoredArticles`: articles in the database filtered by event time, topic / entity / ticker
  (under a model version, default the latest stored) and a text query; ordered by
  (published_at, id) with keyset pagination; position `{"after": [published_at, id]}`.
- `KafkaTopicSource`: a topic from a record timestamp (`offsets.offsets_for_time`) up to the high
  watermark seen at the start; position `{"offsets": {partition: next}, "ends": {...}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from kafka import TopicPartition
from sqlalchemy import Engine, String, and_, cast, exists, func, or_, select

from pipeline.db.models import Article, Enrichment, Entity
from pipeline.enrichment import Origin
from pipeline.ingest.normalize import InvalidItem, normalize
from pipeline.ingest.sources.archive import ColumnMap, read_archive
from pipeline.kafka.clients import make_consumer
from pipeline.kafka.consume import decode_records
from pipeline.kafka.security import PLAINTEXT, KafkaSecurity
from pipeline.replay.offsets import offsets_for_time
from schemas import DeadLetter, RawNews, utc_now

log = logging.getLogger(__name__)

Position = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One item read: `news` or (when unreadable) `letter`; `position` is the position after it."""

    payload: bytes
    origin: Origin
    position: Position
    news: RawNews | None = None
    letter: DeadLetter | None = None


class ReplaySource(Protocol):
    kind: str

    def total(self, position: Position | None) -> int | None:
        """Items still to read from `position` (None: from the start), if known."""
        ...

    def items(self, position: Position | None) -> Iterator[SourceItem]: ...


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Event-time filter on `published_at`: `start <= t < end` (either bound open when None)."""

    start: datetime | None = None
    end: datetime | None = None

    def __contains__(self, when: datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


# --------------------------------------------------------------------------------------- archive


@dataclass
class ArchiveSource:
    paths: Sequence[Path]
    column_map: ColumnMap = field(default_factory=ColumnMap)
    source: str = ""
    timezone: tzinfo = UTC
    time_range: TimeRange = field(default_factory=TimeRange)
    clock: Callable[[], datetime] = utc_now
    kind: str = "file"

    def total(self, position: Position | None) -> int | None:
        rows = 0
        for path in self.paths:
            rows += sum(1 for _ in read_archive(path, self.column_map))
        return max(rows - int((position or {}).get("records", 0)), 0)

    def items(self, position: Position | None) -> Iterator[SourceItem]:
        skip = int((position or {}).get("records", 0))
        seen = 0
        for path in self.paths:
            label = self.source or path.name
            for record in read_archive(path, self.column_map):
                seen += 1
                if seen <= skip:
                    continue
                at: Position = {"records": seen}
                origin = Origin(f"{label} ({record.origin})")
                if record.item is None:
                    yield SourceItem(record.raw, origin, at, letter=_ingest_letter(record.raw, origin, record.error or "unreadable", record.error_type or "Unreadable"))
                    continue
                try:
                    news = normalize(record.item, source=label, default_tz=self.timezone, now=self.clock())
                except InvalidItem as exc:
                    yield SourceItem(record.raw, origin, at, letter=_ingest_letter(record.raw, origin, str(exc), "InvalidItem"))
                    continue
                if news.published_at in self.time_range:
                    yield SourceItem(record.raw, origin, at, news=news)


def _ingest_letter(raw: bytes, origin: Origin, reason: str, error_type: str) -> DeadLetter:
    return DeadLetter.of(raw, stage="ingest", reason=reason[:2000] or error_type, error_type=error_type, source=origin.source)


# --------------------------------------------------------------------------------------- database


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Which stored articles to replay. Topic and entity filters read the enrichments of
    `version` (None: the latest stored model version)."""

    time_range: TimeRange = field(default_factory=TimeRange)
    topics: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    query: str | None = None
    version: str | None = None


def latest_stored_version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(select(Enrichment.model_version).order_by(Enrichment.id.desc()).limit(1)).first()
    return None if row is None else str(row[0])


@dataclass
class StoredArticles:
    engine: Engine
    filter: ArticleFilter = field(default_factory=ArticleFilter)
    page_size: int = 1_000
    kind: str = "db"

    def __post_init__(self) -> None:
        needs_version = self.filter.topics or self.filter.entities or self.filter.tickers
        self._version = self.filter.version or (latest_stored_version(self.engine) if needs_version else None)

    def _conditions(self, position: Position | None) -> list[Any]:
        f, a = self.filter, Article.__table__.c
        conds: list[Any] = []
        if f.time_range.start is not None:
            conds.append(a.published_at >= f.time_range.start)
        if f.time_range.end is not None:
            conds.append(a.published_at < f.time_range.end)
        if f.query:
            pattern = f"%{f.query}%"
            conds.append(or_(a.title.ilike(pattern), a.body.ilike(pattern)))
        e, n = Enrichment.__table__.c, Entity.__table__.c
        if f.topics:
            conds.append(exists().where(e.news_id == a.id, e.model_version == self._version, e.topic.in_(f.topics)))
        if f.entities or f.tickers:
            mention = [func.lower(n.text).in_([x.lower() for x in f.entities])] if f.entities else []
            mention += [n.ticker.in_([t.upper() for t in f.tickers])] if f.tickers else []
            via_entities = (
                exists()
                .select_from(Enrichment.__table__.join(Entity.__table__, n.enrichment_id == e.id))
                .where(e.news_id == a.id, e.model_version == self._version, or_(*mention))
            )
            # the ingest-time ticker hints count too (JSON list as text: '["AAPL", ...]')
            hints = [cast(a.tickers, String).like(f'%"{t.upper()}"%') for t in f.tickers]
            conds.append(or_(via_entities, *hints))
        if position and position.get("after"):
            when, last_id = position["after"]
            at = datetime.fromisoformat(when)
            conds.append(or_(a.published_at > at, and_(a.published_at == at, a.id > last_id)))
        return conds

    def total(self, position: Position | None) -> int | None:
        query = select(func.count()).select_from(Article.__table__).where(*self._conditions(position))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def items(self, position: Position | None) -> Iterator[SourceItem]:
        a = Article.__table__.c
        after = position
        while True:
            query = (
                select(Article.__table__)
                .where(*self._conditions(after))
                .order_by(a.published_at, a.id)
                .limit(self.page_size)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
            for row in rows:
                news = RawNews(
                    id=row["id"],
                    source=row["source"],
                    url=row["url"],
                    title=row["title"],
                    body=row["body"] or "",
                    published_at=row["published_at"],
                    language=row["language"],
                    tickers=tuple(row["tickers"] or ()),
                    ingested_at=row["ingested_at"],
                )
                at: Position = {"after": [news.published_at.isoformat(), news.id]}
                yield SourceItem(b"", Origin("articles"), at, news=news)
                after = at
            if len(rows) < self.page_size:
                return


# --------------------------------------------------------------------------------------- kafka


@dataclass
class KafkaTopicSource:
    """Records of `topic` with a record timestamp >= `since` (all when None), up to the high
    watermark seen when the run started; `time_range` then filters on `published_at`."""

    bootstrap: str
    topic: str
    since: datetime | None = None
    time_range: TimeRange = field(default_factory=TimeRange)
    client_id: str = "finsent-replay-source"
    security: KafkaSecurity = PLAINTEXT
    poll_ms: int = 500
    kind: str = "kafka"
    start_info: dict[int, Any] = field(default_factory=dict)
    """Per partition, how the start offset was found (`offsets.StartOffset`), when `since` is set."""
    _bounds_cache: tuple[dict[int, int], dict[int, int]] | None = field(default=None, init=False, repr=False)

    def _bounds(self, position: Position | None) -> tuple[dict[int, int], dict[int, int]]:
        if position and position.get("offsets") is not None and position.get("ends") is not None:
            starts = {int(p): int(o) for p, o in position["offsets"].items()}
            ends = {int(p): int(o) for p, o in position["ends"].items()}
            return starts, ends
        from pipeline.kafka.clients import topic_end_offsets

        consumer = make_consumer(
            self.bootstrap, group_id=None, client_id=self.client_id, security=self.security
        )
        try:
            ends = topic_end_offsets(self.bootstrap, self.topic, consumer=consumer)
            if self.since is None:
                tps = [TopicPartition(self.topic, p) for p in sorted(ends)]
                starts = {tp.partition: int(o) for tp, o in consumer.beginning_offsets(tps).items()}
            else:
                found = offsets_for_time(consumer, self.bootstrap, self.topic, int(self.since.timestamp() * 1000))
                self.start_info = found
                starts = {p: s.offset for p, s in found.items()}
        finally:
            consumer.close()
        return starts, ends

    def total(self, position: Position | None) -> int | None:
        starts, ends = self._bounds(position)
        self._bounds_cache = None if position else (starts, ends)
        return sum(max(ends[p] - starts.get(p, 0), 0) for p in ends)

    def items(self, position: Position | None) -> Iterator[SourceItem]:
        cached = self._bounds_cache
        starts, ends = cached if cached is not None and not position else self._bounds(position)
        nexts = {p: starts.get(p, 0) for p in ends}
        todo = {p for p in ends if nexts[p] < ends[p]}
        if not todo:
            return
        consumer = make_consumer(
            self.bootstrap, group_id=None, client_id=self.client_id, security=self.security
        )
        try:
            tps = {p: TopicPartition(self.topic, p) for p in sorted(todo)}
            consumer.assign(list(tps.values()))
            for p, tp in tps.items():
                consumer.seek(tp, nexts[p])
            while todo:
                polled = consumer.poll(timeout_ms=self.poll_ms)
                for tp, records in sorted(polled.items(), key=lambda kv: kv[0].partition):
                    records = [r for r in records if r.offset < ends[tp.partition]]
                    decoded, letters = decode_records(records, RawNews)
                    by_offset: dict[int, Any] = {d.offset: d for d in decoded}
                    by_offset.update({letter.offset: letter for letter in letters})
                    for record in records:
                        nexts[tp.partition] = record.offset + 1
                        at: Position = {"offsets": dict(nexts), "ends": dict(ends)}
                        origin = Origin(record.topic, record.partition, record.offset)
                        got = by_offset[record.offset]
                        if isinstance(got, DeadLetter):
                            yield SourceItem(record.value or b"", origin, at, letter=got)
                        elif got.value.published_at in self.time_range:
                            yield SourceItem(record.value or b"", origin, at, news=got.value)
                    if nexts[tp.partition] >= ends[tp.partition]:
                        todo.discard(tp.partition)
                        consumer.pause(tp)
        finally:
            consumer.close()
