"""Idempotent batch writes: `INSERT ... ON CONFLICT DO NOTHING` on Postgres and SQLite.

Writing the same batch twice leaves the same rows; the second write reports zero inserts.
So a consumer can store a batch, then commit its Kafka offsets: a crash in between only replays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, func, select

from pipeline.db.insert import CHUNK_ROWS, chunked, insert_for
from pipeline.db.models import TABLES, Article, Base, Enrichment, Entity
from schemas import EnrichedNews, EntityMention, RawNews

_ARTICLES: Final = Base.metadata.tables[Article.__tablename__]
_ENRICHMENTS: Final = Base.metadata.tables[Enrichment.__tablename__]
_ENTITIES: Final = Base.metadata.tables[Entity.__tablename__]


@dataclass(frozen=True, slots=True)
class StoreResult:
    """How many rows a write actually added (conflicting rows are not counted)."""

    articles_inserted: int = 0
    enrichments_inserted: int = 0
    entities_inserted: int = 0


class MissingArticleError(LookupError):
    """[DB001] Enrichments refer to articles that are neither in the batch nor in the database."""

    def __init__(self, news_ids: Iterable[str]) -> None:
        self.news_ids = tuple(sorted(news_ids))
        shown = ", ".join(self.news_ids[:5]) + (" ..." if len(self.news_ids) > 5 else "")
        super().__init__(
            f"[DB001] {len(self.news_ids)} enrichment(s) without a stored article: {shown}; "
            "store the RawNews together with (or before) its EnrichedNews"
        )


def store_batch(
    engine: Engine, articles: Sequence[RawNews], enrichments: Sequence[EnrichedNews]
) -> StoreResult:
    """Store articles, their enrichments and the entities of new enrichments in one transaction.

    Raises `MissingArticleError` (and writes nothing) when an enrichment's article is unknown.
    """
    with engine.begin() as conn:
        articles_inserted = _insert_articles(conn, articles)
        enrichments = _unique_enrichments(enrichments)
        _require_articles(conn, {e.news_id for e in enrichments} - {a.id for a in articles})
        new_ids = _insert_enrichments(conn, enrichments)
        entity_rows = [
            _entity_row(new_ids[(e.news_id, e.model_version)], entity)
            for e in enrichments
            if (e.news_id, e.model_version) in new_ids
            for entity in e.entities
        ]
        entities_inserted = _insert_ignoring_conflicts(conn, _ENTITIES, entity_rows)
    return StoreResult(articles_inserted, len(new_ids), entities_inserted)


def store_articles(engine: Engine, articles: Sequence[RawNews]) -> int:
    """Store articles only (the ingest path); returns how many were new."""
    with engine.begin() as conn:
        return _insert_articles(conn, articles)


def existing_enrichment_ids(engine: Engine, news_ids: Iterable[str], model_version: str) -> set[str]:
    """The subset of `news_ids` already enriched by `model_version`."""
    found: set[str] = set()
    with engine.connect() as conn:
        for chunk in chunked(sorted(set(news_ids)), CHUNK_ROWS):
            query = select(Enrichment.news_id).where(
                Enrichment.model_version == model_version, Enrichment.news_id.in_(chunk)
            )
            found.update(conn.scalars(query))
    return found


def count_rows(engine: Engine) -> dict[str, int]:
    """Row count of every finsent table, by table name."""
    with engine.connect() as conn:
        return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def _insert_articles(conn: Connection, articles: Sequence[RawNews]) -> int:
    return _insert_ignoring_conflicts(conn, _ARTICLES, [_article_row(a) for a in articles])


def _require_articles(conn: Connection, news_ids: set[str]) -> None:
    if not news_ids:
        return
    stored: set[str] = set()
    for chunk in chunked(sorted(news_ids), CHUNK_ROWS):
        stored.update(conn.scalars(select(Article.id).where(Article.id.in_(chunk))))
    if missing := news_ids - stored:
        raise MissingArticleError(missing)


def _insert_enrichments(conn: Connection, enrichments: Sequence[EnrichedNews]) -> dict[tuple[str, str], int]:
    """Insert enrichments; return the ids of the ones that were new, by (news_id, model_version)."""
    table = _ENRICHMENTS
    new_ids: dict[tuple[str, str], int] = {}
    for chunk in chunked([_enrichment_row(e) for e in enrichments], CHUNK_ROWS):
        statement = insert_for(conn, table).values(chunk).on_conflict_do_nothing()
        returning = statement.returning(table.c.news_id, table.c.model_version, table.c.id)
        new_ids.update({(news_id, version): id_ for news_id, version, id_ in conn.execute(returning)})
    return new_ids


def _insert_ignoring_conflicts(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    inserted = 0
    key = next(iter(table.primary_key.columns))
    for chunk in chunked(rows, CHUNK_ROWS):
        statement = insert_for(conn, table).values(chunk).on_conflict_do_nothing().returning(key)
        inserted += len(conn.execute(statement).all())
    return inserted


def _unique_enrichments(enrichments: Sequence[EnrichedNews]) -> list[EnrichedNews]:
    """First occurrence of each (news_id, model_version): the batch may hold a replayed duplicate."""
    seen: dict[tuple[str, str], EnrichedNews] = {}
    for e in enrichments:
        seen.setdefault((e.news_id, e.model_version), e)
    return list(seen.values())


def _article_row(a: RawNews) -> dict[str, Any]:
    return {
        "id": a.id,
        "source": a.source,
        "url": a.url,
        "title": a.title,
        "body": a.body,
        "published_at": a.published_at,
        "language": a.language,
        "tickers": list(a.tickers),
        "ingested_at": a.ingested_at,
    }


def _enrichment_row(e: EnrichedNews) -> dict[str, Any]:
    return {
        "news_id": e.news_id,
        "model_version": e.model_version,
        "published_at": e.published_at,
        "topic": e.topic,
        "topic_score": e.topic_score,
        "sentiment": e.sentiment,
        "p_negative": e.sentiment_probs.negative,
        "p_neutral": e.sentiment_probs.neutral,
        "p_positive": e.sentiment_probs.positive,
        "sentiment_score": e.sentiment_score,
        "processed_at": e.processed_at,
        "flags": list(e.flags),
    }


def _entity_row(enrichment_id: int, m: EntityMention) -> dict[str, Any]:
    return {
        "enrichment_id": enrichment_id,
        "text": m.text,
        "label": m.label,
        "start_char": m.start,
        "end_char": m.end,
        "confidence": m.confidence,
        "ticker": m.ticker,
        "sentiment": m.sentiment,
        "p_negative": m.sentiment_probs.negative if m.sentiment_probs else None,
        "p_neutral": m.sentiment_probs.neutral if m.sentiment_probs else None,
        "p_positive": m.sentiment_probs.positive if m.sentiment_probs else None,
        "sentiment_score": m.sentiment_score,
        "sentiment_source": m.sentiment_source,
    }
