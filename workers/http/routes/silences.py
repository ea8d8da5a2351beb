"""`GET /v1/silences` (scope `read`), `POST /v1/silences` and `DELETE /v1/silences/{id}` (scope
`admin`): mute matching alerts for a while, as `finsent silence add|list|expire` does.

Writes accept JSON only and refuse a cross-origin `Origin` (unless CORS allows it); from the
dashboard they also need the session's CSRF token (`workers.http.sessions`).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from alerts.read import SilenceOut, silence_out
from alerts.silences import add_silence, expire_silence, silences_page
from pipeline.api_tokens import Principal
from pipeline.read.cursor import encode_cursor, filters_digest
from schemas import utc_now
from workers.http import params
from workers.http.auth import require_scope
from workers.http.origin import same_origin
from workers.http.reading import ERRORS, connection, database

router = APIRouter(tags=["silences"], responses=ERRORS)



class SilenceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"matchers": {"topic": "Energy | Oil"}, "duration": "2h", "comment": "OPEC"}]},
    )

    matchers: dict[str, str] = Field(
        min_length=1, max_length=16, description="label = value (topic, rule, ticker, severity or a rule label)"
    )
    duration: str = Field("2h", max_length=20, description="how long, e.g. 30m, 2h, 1d (at most 90d)")
    comment: str = Field("", max_length=1000)


class SilencesPage(BaseModel):
    items: list[SilenceOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


@router.get("/v1/silences", summary="Silences newest first (active ones unless `expired=true`)")
def silences(
    expired: bool = Query(False, description="include expired silences"),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page", max_length=400),
    limit: int = Query(50, ge=1, le=200),
    _: Principal = Depends(require_scope("read")),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> SilencesPage:
    now = utc_now()
    digest = filters_digest("silences", expired)
    items, last = silences_page(conn, now, include_expired=expired, after=params.cursor(cursor, digest), limit=limit)
    return SilencesPage(
        items=[silence_out(s, now) for s in items], next_cursor=encode_cursor(last, digest) if last else None
    )


@router.post(
    "/v1/silences",
    status_code=201,
    summary="Create a silence",
    dependencies=[Depends(same_origin)],
    responses={415: {"description": "the body is not JSON"}},
)
def create_silence(
    body: SilenceIn,
    request: Request,
    principal: Principal = Depends(require_scope("admin")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> SilenceOut:
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise HTTPException(status_code=415, detail="send the silence as application/json")
    for name, value in body.matchers.items():
        if not params.LABEL_NAME.match(name):
            raise params.invalid("matchers", f"not a label name: {name[:64]!r}", where="body")
        if not value.strip() or len(value) > 200:
            raise params.invalid("matchers", f"label {name!r}: the value must be 1-200 characters", where="body")
    period = params.duration("duration", body.duration, low=timedelta(minutes=1), high=timedelta(days=90))
    now = utc_now()
    created = add_silence(
        engine, body.matchers, now=now, duration=period, comment=body.comment, created_by=principal.name
    )
    return silence_out(created, now)


@router.delete(
    "/v1/silences/{silence_id}",
    status_code=204,
    summary="Expire a silence now",
    dependencies=[Depends(same_origin)],
    responses={404: {"description": "no active silence with this id"}},
)
def delete_silence(
    silence_id: int,
    _: Principal = Depends(require_scope("admin")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> None:
    if not (0 < silence_id < 2**63) or not expire_silence(engine, silence_id, utc_now()):
        raise HTTPException(status_code=404, detail=f"no active silence {silence_id}")
