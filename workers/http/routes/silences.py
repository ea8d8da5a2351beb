"""`GET /v1/silences` (scope `read`), `POST /v1/silences` and `DELETE /v1/silences/{id}` (scope
`admin`): mute matching alerts for a while, as `finsent silence add|list|expire` does.

Writes accept JSON only and refuse a cross-origin `Origin` (unless CORS allows it); from the
dashboard they also need the session's CSRF token (`workers.http.sessions`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Connection, Engine

from alerts.read import SilenceOut, silence_out
from alerts.silences import add_silence, expire_silence, silences_page
from alerts.text import PRINTABLE_PATTERN
from pipeline.api_tokens import Principal
from pipeline.read.cursor import encode_cursor
from schemas import utc_now
from workers.http import params
from workers.http.auth import require_scope
from workers.http.origin import same_origin
from workers.http.reading import ERRORS, WRITE_ERRORS, Cursor, connection, database

router = APIRouter(tags=["silences"], responses=ERRORS)

SHORTEST, LONGEST = timedelta(minutes=1), timedelta(days=90)
LabelName = Annotated[str, StringConstraints(pattern=params.LABEL_PATTERN)]
LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=params.TEXT_PATTERN)]
"""A matcher's value: 1-200 printable characters, not only spaces (Postgres stores no NUL)."""



class SilenceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"matchers": {"topic": "Energy | Oil"}, "duration": "2h", "comment": "OPEC"}]},
    )

    matchers: dict[LabelName, LabelValue] = Field(
        min_length=1, max_length=16, description="label = value (topic, rule, ticker, severity or a rule label)",
        json_schema_extra={"propertyNames": {"pattern": params.LABEL_PATTERN}, "additionalProperties": False},
    )
    duration: str = Field(
        "2h", max_length=20, description="how long, e.g. 30m, 2h, 1d (1 min to 90 d; also 1h30m)",
        json_schema_extra={"pattern": params.duration_pattern(SHORTEST, LONGEST)},
    )
    comment: str = Field("", max_length=1000, pattern=PRINTABLE_PATTERN, description="no control characters")


class SilencesPage(BaseModel):
    items: list[SilenceOut]
    next_cursor: Cursor | None = Field(description="pass as `cursor` for the next page; null on the last page")


@router.get("/v1/silences", summary="Silences newest first (active ones unless `expired=true`)")
def silences(
    expired: bool = Query(False, description="include expired silences"),
    cursor: str | None = params.cursor_query(),
    limit: int = Query(50, ge=1, le=200),
    _: Principal = Depends(require_scope("read")),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> SilencesPage:
    now = utc_now()
    items, last = silences_page(conn, now, include_expired=expired, after=params.cursor(cursor), limit=limit)
    return SilencesPage(items=[silence_out(s, now) for s in items], next_cursor=encode_cursor(last) if last else None)


@router.post(
    "/v1/silences",
    status_code=201,
    summary="Create a silence",
    dependencies=[Depends(same_origin)],
    responses=WRITE_ERRORS,
)
def create_silence(
    body: SilenceIn,
    request: Request,
    principal: Principal = Depends(require_scope("admin")),  # noqa: B008
    engine: Engine = Depends(database),  # noqa: B008
) -> SilenceOut:
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise HTTPException(status_code=415, detail="send the silence as application/json")
    period = params.duration("duration", body.duration, low=SHORTEST, high=LONGEST)
    now = utc_now()
    try:
        created = add_silence(
            engine, body.matchers, now=now, duration=period, comment=body.comment, created_by=principal.name
        )
    except ValueError as exc:  # what the document cannot state (a lone surrogate)
        raise params.invalid("matchers", str(exc), where="body") from None
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
