"""`GET /v1/watchlists` and `GET /v1/watchlists/{id}/notices` (scope `read`), `POST /v1/watchlists`
and `DELETE /v1/watchlists/{id}` (scope `admin`): what `finsent watchlist add|list|rm|notices`
does. Stream workers pick changes up within `FINSENT_WATCHLIST_REFRESH_S`.

Writes accept JSON only and refuse a cross-origin `Origin` (unless CORS allows it), like silences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from alerts.text import PRINTABLE_PATTERN
from alerts.watchlists.model import TICKER_PATTERN, Watchlist, WatchlistSpec
from alerts.watchlists.store import (
    WatchlistError,
    add_watchlist,
    get_watchlist,
    list_watchlists,
    recent_notices,
    remove_watchlist,
)
from pipeline.api_tokens import Principal
from schemas import utc_now
from workers.http import params
from workers.http.auth import require_scope
from workers.http.origin import same_origin
from workers.http.reading import ERRORS, WRITE_ERRORS, database

router = APIRouter(tags=["watchlists"], responses=ERRORS)

MAX_ID = 2**63

EXAMPLE = {
    "name": "AAPL desk",
    "tickers": ["AAPL"],
    "entities": ["Apple"],
    "condition": {"labels": ["negative"], "max_score": -0.5},
    "min_relevance": "title",
    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/London"},
    "rate_limit": {"max_notices": 10, "per": "1h"},
}


def _document(schema: dict[str, Any]) -> None:
    """State in the document what `WatchlistSpec` checks: items that are printable and not blank,
    tickers of at most 32 characters without inner spaces, at least one ticker, entity name or topic."""
    item = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": params.TEXT_PATTERN}
    ticker = {**item, "pattern": TICKER_PATTERN}
    properties = schema["properties"]
    for name, items in (("tickers", ticker), ("entities", item), ("topics", item), ("receivers", item)):
        properties[name]["items"] = items
    schema["anyOf"] = [{"required": [n], "properties": {n: {"minItems": 1}}} for n in ("tickers", "entities", "topics")]
    schema["examples"] = [EXAMPLE]


class WatchlistIn(WatchlistSpec):
    """A new watchlist; `owner` defaults to the token's name."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_document)

    owner: str | None = Field(default=None, min_length=1, max_length=200, pattern=PRINTABLE_PATTERN)  # type: ignore[assignment]


class WatchlistsPage(BaseModel):
    items: list[Watchlist]


class NoticeOut(BaseModel):
    notice_id: str
    watchlist_id: int
    kind: str
    news_id: str | None
    model_version: str | None
    alert_fingerprint: str | None
    alert_status: str | None
    status: str = Field(description="queued (sent to the outbox) or suppressed")
    reason: str | None = Field(description="why it was suppressed: quiet_hours, rate_limit, no_receiver")
    event_at: datetime
    created_at: datetime


class NoticesPage(BaseModel):
    items: list[NoticeOut]


def _id(watchlist_id: int) -> int:
    if not 0 < watchlist_id < MAX_ID:
        raise HTTPException(status_code=404, detail=f"no watchlist {watchlist_id}")
    return watchlist_id


@router.get("/v1/watchlists", summary="Active watchlists (of `owner`, when given)")
def watchlists(
    owner: str | None = params.name_query("the owner's name", max_length=200),
    _: Principal = Depends(require_scope("read")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> WatchlistsPage:
    return WatchlistsPage(items=list_watchlists(engine, owner=owner))


@router.post(
    "/v1/watchlists",
    status_code=201,
    summary="Create a watchlist",
    dependencies=[Depends(same_origin)],
    responses={409: {"description": "an active watchlist has this name"}, **WRITE_ERRORS},
)
def create_watchlist(
    body: WatchlistIn,
    request: Request,
    principal: Principal = Depends(require_scope("admin")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> Watchlist:
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise HTTPException(status_code=415, detail="send the watchlist as application/json")
    spec = WatchlistSpec.model_validate({**body.model_dump(), "owner": body.owner or principal.name})
    try:
        return add_watchlist(engine, spec, now=utc_now())
    except WatchlistError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


@router.delete(
    "/v1/watchlists/{watchlist_id}",
    status_code=204,
    summary="Remove a watchlist",
    dependencies=[Depends(same_origin)],
    responses={404: {"description": "no active watchlist with this id"}},
)
def delete_watchlist(
    watchlist_id: int,
    _: Principal = Depends(require_scope("admin")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> None:
    if remove_watchlist(engine, _id(watchlist_id), now=utc_now()) is None:
        raise HTTPException(status_code=404, detail=f"no watchlist {watchlist_id}")


@router.get(
    "/v1/watchlists/{watchlist_id}/notices",
    summary="The watchlist's latest notices, queued or suppressed (with why)",
    responses={404: {"description": "no active watchlist with this id"}},
)
def notices(
    watchlist_id: int,
    limit: int = Query(50, ge=1, le=500),
    _: Principal = Depends(require_scope("read")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> NoticesPage:
    if get_watchlist(engine, _id(watchlist_id)) is None:
        raise HTTPException(status_code=404, detail=f"no watchlist {watchlist_id}")
    rows = recent_notices(engine, watchlist_id=watchlist_id, limit=limit)
    return NoticesPage(items=[NoticeOut(**r) for r in rows])
