"""The article list (filters, search, keyset pages, newest first) and one article in full.

A listed article is one enrichment of the chosen model version with its article and entities;
pages are ordered by (`published_at`, enrichment id) descending (`pipeline.read.cursor`). An
article has a ticker when one of its entities is linked to it or its source listed it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, cast, exists, func, select, true, union
from sqlalchemy.dialects.postgresql import JSONB

from pipeline.db.models import Article, Enrichment, Entity
from pipeline.read.cursor import Keyset
from pipeline.read.models import ArticleDetail, ArticleOut, EnrichmentOut, EntityOut, TowardsOut
from pipeline.read.search import matching_articles

MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ArticleFilters:
    """What `GET /v1/articles` filters on (None: no filter); times bound `published_at` as [start, end)."""

    model_version: str
    topic: str | None = None
    sentiment: str | None = None
    ticker: str | None = None
    entity: str | None = None
    text: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def list_articles(
    conn: Connection, filters: ArticleFilters, *, after: Keyset | None = None, limit: int = 50
) -> tuple[list[ArticleOut], Keyset | None]:
    """One page of articles newest first, and the key to continue after (None: last page)."""
    e = Enrichment.__table__
    query = _listing(conn, filters)
    if after is not None:
        query = query.where(after.before(e.c.published_at, e.c.id))
    rows = conn.execute(query.order_by(e.c.published_at.desc(), e.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = _with_entities(conn, rows)
    last = rows[-1] if more else None
    return items, (Keyset(last.published_at, last.enrichment_id) if last is not None else None)


def articles_by_enrichment(conn: Connection, enrichment_ids: Sequence[int]) -> list[ArticleOut]:
    """The articles of these enrichments, most negative first (then newest)."""
    if not enrichment_ids:
        return []
    e = Enrichment.__table__
    query = _select_articles().where(e.c.id.in_(list(enrichment_ids)))
    rows = conn.execute(query.order_by(e.c.p_negative.desc(), e.c.published_at.desc(), e.c.id.desc())).all()
    return _with_entities(conn, rows)


def articles_towards(conn: Connection, towards: Mapping[int, TowardsOut]) -> list[ArticleOut]:
    """The articles of these enrichments in the mapping's order, each with its sentiment towards a ticker."""
    e = Enrichment.__table__
    rows = conn.execute(_select_articles().where(e.c.id.in_(list(towards)))).all() if towards else []
    by_id = {a.enrichment_id: a for a in rows}
    ordered = [by_id[i] for i in towards if i in by_id]
    return [
        a.model_copy(update={"towards": towards[r.enrichment_id]})
        for a, r in zip(_with_entities(conn, ordered), ordered, strict=True)
    ]


def article_detail(conn: Connection, news_id: str) -> ArticleDetail | None:
    """The article with every model version's enrichment (oldest version first) and entities."""
    article = conn.execute(select(Article.__table__).where(Article.id == news_id)).mappings().first()
    if article is None:
        return None
    e = Enrichment.__table__
    enrichments = conn.execute(select(e).where(e.c.news_id == news_id).order_by(e.c.processed_at, e.c.id)).mappings().all()
    entities = entities_of(conn, [r["id"] for r in enrichments])
    return ArticleDetail(
        news_id=article["id"],
        title=article["title"],
        body=article["body"],
        url=article["url"],
        source=article["source"],
        published_at=article["published_at"],
        ingested_at=article["ingested_at"],
        language=article["language"],
        tickers=list(article["tickers"] or []),
        enrichments=[
            EnrichmentOut(
                model_version=r["model_version"],
                topic=r["topic"],
                topic_score=r["topic_score"],
                sentiment=r["sentiment"],
                p_negative=r["p_negative"],
                p_neutral=r["p_neutral"],
                p_positive=r["p_positive"],
                sentiment_score=r["sentiment_score"],
                processed_at=r["processed_at"],
                entities=entities.get(r["id"], []),
            )
            for r in enrichments
        ],
    )


def entities_of(conn: Connection, enrichment_ids: Iterable[int]) -> dict[int, list[EntityOut]]:
    """The entities of each enrichment, in text order."""
    ids = list(enrichment_ids)
    out: dict[int, list[EntityOut]] = defaultdict(list)
    if not ids:
        return out
    en = Entity.__table__
    rows = conn.execute(select(en).where(en.c.enrichment_id.in_(ids)).order_by(en.c.enrichment_id, en.c.start_char))
    for r in rows.mappings():
        out[r["enrichment_id"]].append(
            EntityOut(
                text=r["text"],
                label=r["label"],
                ticker=r["ticker"],
                confidence=r["confidence"],
                start_char=r["start_char"],
                end_char=r["end_char"],
                sentiment=r["sentiment"],
                sentiment_score=r["sentiment_score"],
                sentiment_source=r["sentiment_source"],
            )
        )
    return out


def _select_articles() -> Select[Any]:
    a, e = Article.__table__, Enrichment.__table__
    return select(
        e.c.id.label("enrichment_id"),
        a.c.id.label("news_id"),
        a.c.title,
        a.c.url,
        a.c.source,
        e.c.published_at,
        a.c.language,
        e.c.model_version,
        e.c.topic,
        e.c.topic_score,
        e.c.sentiment,
        e.c.p_negative,
        e.c.p_neutral,
        e.c.p_positive,
        e.c.sentiment_score,
    ).select_from(e.join(a, a.c.id == e.c.news_id))


def _listing(conn: Connection, f: ArticleFilters) -> Select[Any]:
    e, en = Enrichment.__table__, Entity.__table__
    query = _select_articles().where(e.c.model_version == f.model_version)
    if f.topic is not None:
        query = query.where(e.c.topic == f.topic)
    if f.sentiment is not None:
        query = query.where(e.c.sentiment == f.sentiment)
    if f.start is not None:
        query = query.where(e.c.published_at >= f.start)
    if f.end is not None:
        query = query.where(e.c.published_at < f.end)
    if f.ticker is not None:
        query = query.where(e.c.id.in_(_with_ticker(conn, f.model_version, f.ticker.upper())))
    if f.entity is not None:
        query = query.where(
            exists().where(en.c.enrichment_id == e.c.id, func.lower(en.c.text) == f.entity.lower())
        )
    if f.text:
        query = query.where(e.c.news_id.in_(matching_articles(conn, f.text)))
    return query


def _with_ticker(conn: Connection, model_version: str, symbol: str) -> Select[Any]:
    """Enrichment ids (of `model_version`) whose article has `symbol`: an entity linked to it, or
    the source listed it. Both index lookups (`ix_entities_ticker`, `ix_articles_tickers`),
    materialized first on Postgres so a rare ticker never means scanning every article."""
    en, a, te = Entity.__table__, Article.__table__, Enrichment.__table__.alias("te")
    if conn.dialect.name == "postgresql":
        listed = a.c.tickers.op("@>")(cast([symbol], JSONB))  # the list: JSONB encodes it (a string would be a JSON string)
        tagged_ids = select(a.c.id).where(listed)
    else:
        each = func.json_each(a.c.tickers).table_valued("value")
        tagged_ids = select(a.c.id).select_from(a).join(each, true()).where(each.c.value == symbol)
    linked = select(en.c.enrichment_id.label("id")).where(en.c.ticker == symbol)
    tagged = select(te.c.id).where(te.c.model_version == model_version, te.c.news_id.in_(tagged_ids))
    ids = union(linked, tagged)
    if conn.dialect.name != "postgresql":
        return select(ids.subquery("ticker_hits").c.id)
    hits = ids.cte("ticker_hits").prefix_with("MATERIALIZED")
    return select(hits.c.id)


def _with_entities(conn: Connection, rows: Sequence[Any]) -> list[ArticleOut]:
    entities = entities_of(conn, [r.enrichment_id for r in rows])
    return [
        ArticleOut(
            news_id=r.news_id,
            title=r.title,
            url=r.url,
            source=r.source,
            published_at=r.published_at,
            language=r.language,
            model_version=r.model_version,
            topic=r.topic,
            topic_score=r.topic_score,
            sentiment=r.sentiment,
            p_negative=r.p_negative,
            p_neutral=r.p_neutral,
            p_positive=r.p_positive,
            sentiment_score=r.sentiment_score,
            entities=entities.get(r.enrichment_id, []),
        )
        for r in rows
    ]
