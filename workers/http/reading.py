"""What every read route shares: the database, and the scope of a read (model version and the
event-time instant it is read at: `pipeline.read.scope`), from the `model_version` and `at`
query parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine

from pipeline.read.cursor import CURSOR_PATTERN
from pipeline.read.scope import ReadScope, VersionSource, resolve_scope
from schemas import utc_now
from workers.http import params
from workers.http.context import AppContext, app_context

MAX_VERSION = 100
"""Longest model version name a read accepts."""
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid credentials"},
    403: {"description": "the token lacks the scope, or a write came from another origin"},
    422: {"description": "a parameter is invalid (`errors` says which and why)"},
    429: {
        "description": "too many requests for this token",
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    },
    503: {"description": "no database is configured, or a query ran past the statement timeout"},
}
"""Answers every read route can give besides its own (documented in the OpenAPI document)."""
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body is not JSON"},
    408: {"description": "the body was not received in time"},
    413: {"description": "the body is too large"},
    415: {"description": "the body is not application/json"},
}
"""What a route that reads a JSON body can answer besides `ERRORS`."""
Cursor = Annotated[str, Field(pattern=CURSOR_PATTERN, description="the position to read on from")]


class ReadMeta(BaseModel):
    model_version: str | None = Field(description="the model version read (null: nothing stored yet)")
    version_source: VersionSource = Field(
        description="requested, setting (FINSENT_ALERTS_MODEL_VERSION), activated (`finsent model "
        "activate`), latest (the latest stored, when none is active) or none"
    )
    as_of: datetime = Field(description="event-time 'now' of this read (UTC)")


def meta(scope: ReadScope) -> ReadMeta:
    return ReadMeta(model_version=scope.model_version, version_source=scope.version_source, as_of=scope.as_of)


def database(context: AppContext = Depends(app_context)) -> Engine:  # noqa: B008
    if context.engine is None:
        raise HTTPException(status_code=503, detail="no database is configured on this server")
    return context.engine


def connection(engine: Engine = Depends(database)) -> Iterator[Connection]:  # noqa: B008
    with engine.connect() as conn:
        yield conn


def read_scope(
    model_version: str | None = params.text_query(
        "read this model version (default: the active one)", max_length=MAX_VERSION
    ),
    at: str | None = params.instant_query("read as of this instant (default: the newest article's minute, or now)"),
    engine: Engine = Depends(database),  # noqa: B008
    context: AppContext = Depends(app_context),  # noqa: B008
) -> ReadScope:
    return resolve_scope(
        engine,
        wall_now=utc_now(),
        requested_version=params.text("model_version", model_version),
        configured_version=context.settings.alerts_model_version,
        at=params.instant("at", at),
    )
