"""`POST /v1/news` (scope `ingest`): push items; answered after the broker acknowledged them.

Per item: `accepted` (produced to news.raw), `duplicate` (with the id it repeats and how it
matched) or `rejected` (with the field and the reason; not dead-lettered: the sender holds it).
202 when anything was accepted or a duplicate, 422 when every item was rejected, 503 (with
`Retry-After`) when the broker or the database did not answer: nothing of the request was
recorded, so a retry is accepted, not called a duplicate.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from pipeline.api_tokens import Principal
from pipeline.ingest.push import SOURCE, PushError, parse_push_body, push_answer
from pipeline.kafka.produce import ProduceError
from workers.http.auth import require_scope
from workers.http.context import AppContext, app_context
from workers.http.responses import SafeJSONResponse, error_response

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])

RETRY_AFTER_S = "5"


class NewsItem(BaseModel):
    """One pushed item. Aliases are accepted too (`headline`, `link`, `summary`, `date`, ...)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "title": "Acme beats estimates as $ACME shares jump",
                    "url": "https://example.com/acme-q3",
                    "published_at": "2026-11-27T14:00:00Z",
                    "source": "Example Wire",
                    "body": "Acme Corp reported ...",
                }
            ]
        },
    )

    title: str = Field(description="the headline (HTML is stripped), at most 2,000 characters")
    url: str | None = Field(default=None, description="the article's link; the id is derived from it")
    published_at: str | int | float | None = Field(
        default=None,
        description="ISO 8601, RFC 822 or epoch seconds; naive times are UTC; missing = now",
    )
    source: str | None = Field(default=None, description="publisher name; default `http-push`")
    body: str | None = Field(default=None, description="text or HTML, at most 1,000,000 characters")
    language: str | None = Field(default=None, description="ISO 639-1; guessed when missing")
    tickers: list[str] | str | None = Field(default=None, description="symbols, besides cashtags in the title")


class ItemResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = Field(description="the news id (null for an item too broken to have one)")
    duplicate_of: str | None = Field(default=None, description="for a duplicate: the id it repeats")
    match: Literal["duplicate_id", "duplicate_title", "near_duplicate"] | None = None
    field: str | None = Field(default=None, description="for a rejection: the culprit field, if one")
    reason: str | None = Field(default=None, description="for a rejection: why")


class PushResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    items: list[ItemResult]


class ErrorBody(BaseModel):
    error: str


_ITEM_SCHEMA = NewsItem.model_json_schema()
_BODY_SCHEMA: dict[str, Any] = {
    "oneOf": [_ITEM_SCHEMA, {"type": "array", "items": _ITEM_SCHEMA, "minItems": 1, "maxItems": 1000}]
}


@router.post(
    "/v1/news",
    status_code=202,
    summary="Push news items",
    response_model=PushResult,
    responses={
        400: {"model": ErrorBody, "description": "not JSON, not UTF-8, nested too deeply, or the wrong shape"},
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "the token lacks the `ingest` scope"},
        408: {"model": ErrorBody, "description": "the body was not received in time"},
        411: {"model": ErrorBody, "description": "no Content-Length"},
        413: {"model": ErrorBody, "description": "body over 2 MiB or more than 1,000 items"},
        415: {"model": ErrorBody, "description": "Content-Type is not application/json"},
        422: {"model": PushResult, "description": "every item was rejected"},
        503: {"model": ErrorBody, "description": "broker or database unavailable: retry (nothing was recorded)"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}},
)
async def push_news(
    request: Request,
    principal: Principal = Depends(require_scope("ingest")),  # noqa: B008
    context: AppContext = Depends(app_context),  # noqa: B008
) -> SafeJSONResponse:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return error_response(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
    publisher = context.publisher
    if publisher is None:
        return error_response(503, "ingest is not configured on this server")
    body = await request.body()

    def publish() -> tuple[int, dict[str, Any]]:
        records = parse_push_body(body, max_items=context.max_items)
        outcomes = publisher.publish_records(
            records, source=SOURCE, default_tz=context.push_timezone, invalid="reject"
        )
        return push_answer(outcomes)

    try:
        status, answer = await run_in_threadpool(publish)
    except PushError as exc:
        return error_response(exc.status, exc.message)
    except (ProduceError, SQLAlchemyError) as exc:
        log.error("push from %s not taken: %s", principal.name, type(exc).__name__)
        return error_response(
            503,
            f"not acknowledged ({type(exc).__name__}); nothing was recorded: retry the request",
            {"Retry-After": RETRY_AFTER_S},
        )
    log.info(
        "push from %s: %d accepted, %d duplicate, %d rejected",
        principal.name,
        answer["accepted"],
        answer["duplicate"],
        answer["rejected"],
    )
    return SafeJSONResponse(answer, status_code=status)
