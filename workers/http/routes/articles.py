"""`GET /v1/articles` (filters, search, keyset pages), `GET /v1/articles/{news_id}` and
`GET /v1/entities/top` (scope `read`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field
from sqlalchemy import Connection

from pipeline.read.articles import MAX_LIMIT, ArticleFilters, article_detail, list_articles
from pipeline.read.cursor import encode_cursor
from pipeline.read.entities import top_entities
from pipeline.read.models import ArticleDetail, ArticleOut, EntityFigures
from pipeline.read.scope import ReadScope
from workers.http import params
from workers.http.auth import require_scope
from workers.http.reading import ERRORS, Cursor, ReadMeta, connection, meta, read_scope

WINDOW_LOW, WINDOW_HIGH = timedelta(minutes=5), timedelta(days=30)

router = APIRouter(tags=["read"], dependencies=[Depends(require_scope("read"))], responses=ERRORS)


class ArticlesPage(ReadMeta):
    items: list[ArticleOut]
    next_cursor: Cursor | None = Field(description="pass as `cursor` for the next page; null on the last page")


class EntitiesPage(ReadMeta):
    window: str
    baseline: str
    by: str
    entities: list[EntityFigures]


@router.get("/v1/articles", summary="Articles newest first, with entities; filters, search, keyset pages")
def articles(
    topic: str | None = params.text_query("exact topic label"),
    sentiment: Literal["negative", "neutral", "positive"] | None = Query(None),
    ticker: str | None = params.text_query("a ticker linked to one of the article's entities"),
    entity: str | None = params.text_query("an entity's text (case-insensitive)"),
    q: str | None = params.text_query("full-text search of title and body (Postgres: web search syntax)"),
    start: str | None = params.instant_query("published at or after", alias="from"),
    end: str | None = params.instant_query("published before (an empty range: no article)", alias="to"),
    cursor: str | None = params.cursor_query(),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    scope: ReadScope = Depends(read_scope),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> ArticlesPage:
    first, stop = params.instant("from", start), params.instant("to", end)
    filters = ArticleFilters(
        model_version=scope.model_version or "",
        topic=params.text("topic", topic),
        sentiment=sentiment,
        ticker=params.text("ticker", ticker),
        entity=params.text("entity", entity),
        text=params.text("q", q),
        start=first,
        end=stop,
    )
    after = params.cursor(cursor)
    items, last = list_articles(conn, filters, after=after, limit=limit) if scope.model_version else ([], None)
    return ArticlesPage(
        **meta(scope).model_dump(),
        items=items,
        next_cursor=encode_cursor(last) if last is not None else None,
    )


@router.get(
    "/v1/articles/{news_id}",
    summary="One article: its text, every model version's enrichment, its entities",
    responses={404: {"description": "no such article"}},
)
def article(
    news_id: str = params.id_path("the article's id"),
    conn: Connection = Depends(connection),  # noqa: B008
) -> ArticleDetail:
    found = article_detail(conn, news_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such article")
    return found


@router.get("/v1/entities/top", summary="The tickers and entities sliding most (window vs the period before)")
def entities(
    window: str = params.duration_query("24h", "the window, e.g. 1h, 24h, 7d", low=WINDOW_LOW, high=WINDOW_HIGH),
    baseline: str | None = params.duration_query(
        None, "the period before the window (default: as long as it)", low=WINDOW_LOW, high=WINDOW_HIGH
    ),
    by: Literal["negative", "volume"] = Query("negative", description="rank by negative share or by volume"),
    tickers_only: bool = Query(False, description="only entities linked to a ticker"),
    min_count: int = Query(2, ge=1, le=10_000, description="at least this many articles in the window"),
    limit: int = Query(20, ge=1, le=100),
    scope: ReadScope = Depends(read_scope),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> EntitiesPage:
    w = params.duration("window", window, low=WINDOW_LOW, high=WINDOW_HIGH)
    b = params.duration("baseline", baseline, low=WINDOW_LOW, high=WINDOW_HIGH) if baseline is not None else w
    found = (
        top_entities(
            conn, scope.model_version, scope.as_of, window=w, baseline=b, by=by, min_count=min_count,
            tickers_only=tickers_only, limit=limit,
        )
        if scope.model_version
        else []
    )
    return EntitiesPage(
        **meta(scope).model_dump(), window=window, baseline=window if baseline is None else baseline, by=by,
        entities=found,
    )
