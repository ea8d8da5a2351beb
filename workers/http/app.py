"""`create_app(context, routers)`: the one ASGI app of `finsent serve`.

Routers are pluggable: `DEFAULT_ROUTERS` (operations, ingest) unless others are given; the read
API and the dashboard pass theirs too, or call `app.include_router` on the result. Each protected
route declares its scope with `Depends(require_scope(...))`. Errors are `{"error": message}`
(validation errors add `errors`, without echoing the input); every body is ASCII JSON. A query
cancelled by the database's statement timeout is a 503. A request whose `Host` is not one of the
server's names is a 400 (`workers.http.hosts`); `/docs` is the vendored Swagger UI (`workers.http.docs`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRouter
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.db.engine import is_statement_timeout
from workers.http import docs
from workers.http.access import AccessLog
from workers.http.context import AppContext
from workers.http.hosts import HostCheck, SiteNames
from workers.http.limits import RequestLimits
from workers.http.ratelimit import RateLimits
from workers.http.responses import SafeJSONResponse, allowed_methods, error_response
from workers.http.routes import DEFAULT_ROUTERS

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("finsent")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(context: AppContext, routers: Sequence[APIRouter] | None = None) -> FastAPI:
    """The app over `context`, with `routers` (default: `DEFAULT_ROUTERS`) mounted."""
    app = FastAPI(
        title="finsent",
        version=_version(),
        description="Streaming monitor for financial news sentiment. Authenticate with "
        "`Authorization: Bearer <token>` (`finsent token create --scope ingest|read|admin`).",
        default_response_class=SafeJSONResponse,
        openapi_url=docs.OPENAPI_URL,
        docs_url=None,  # `workers.http.docs`: the vendored Swagger UI, not FastAPI's CDN page
        redoc_url=None,
    )
    app.state.context = context
    app.state.site_names = SiteNames.from_context(context)
    app.include_router(docs.router)
    app.state.rate_limits = RateLimits.from_settings(context.settings)
    for router in DEFAULT_ROUTERS if routers is None else routers:
        app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    # outermost last: the access log sees every answer, a foreign Host (DNS rebinding) is refused
    # before the body is read, limits apply before any route runs
    app.add_middleware(
        RequestLimits,  # type: ignore[arg-type]
        max_body_bytes=context.max_body_bytes,
        read_timeout_s=context.settings.http_read_timeout_s,
    )
    app.add_middleware(HostCheck, names=app.state.site_names)  # type: ignore[arg-type]
    app.add_middleware(AccessLog, registry=context.registry)  # type: ignore[arg-type]
    return app


async def _http_error(request: Request, exc: StarletteHTTPException) -> SafeJSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return error_response(exc.status_code, str(exc.detail), headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> SafeJSONResponse:
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]
    return error_response(422, "invalid request", errors=errors)


async def _database_error(request: Request, exc: DBAPIError) -> SafeJSONResponse:
    """A statement cancelled by `FINSENT_DB_STATEMENT_TIMEOUT_MS`: 503; any other database error
    goes on to `_internal_error` (500)."""
    if not is_statement_timeout(exc):
        raise exc
    log.warning("a query of %s ran past the statement timeout", request.url.path)
    return error_response(503, "the query took longer than this server allows; narrow it or retry", {"Retry-After": "1"})


async def _internal_error(_request: Request, exc: Exception) -> SafeJSONResponse:
    log.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal error")
