"""The analysts' surface on the app of `finsent serve`: read API, silences, dashboard, sign-in.

`create_analyst_app(context)` is `create_app` with `ANALYST_ROUTERS` after the default ones, the
session store and its authenticator (`workers.http.sessions`), and CORS only when
`FINSENT_CORS_ORIGINS` names origins. New routers (e.g. `/v1/watchlists`) join `ANALYST_ROUTERS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from workers.http.app import create_app
from workers.http.context import AppContext
from workers.http.origin import allowed_origins
from workers.http.routes import (
    DEFAULT_ROUTERS,
    alerts,
    articles,
    dashboard,
    login,
    silences,
    topics,
    watchlists,
)
from workers.http.sessions import SessionStore, session_authenticator

ANALYST_ROUTERS: tuple[APIRouter, ...] = (
    topics.router,
    articles.router,
    alerts.router,
    silences.router,
    watchlists.router,
    login.router,
    dashboard.router,
)


def create_analyst_app(context: AppContext, routers: Sequence[APIRouter] | None = None) -> FastAPI:
    """The app with the default and the analysts' routers (or `routers`), sessions and CORS."""
    app = create_app(context, (*DEFAULT_ROUTERS, *ANALYST_ROUTERS) if routers is None else routers)
    app.state.sessions = SessionStore(ttl_s=context.settings.session_hours * 3600)
    if session_authenticator not in context.authenticators:
        context.authenticators.append(session_authenticator)
    if origins := allowed_origins(context):
        app.add_middleware(
            CORSMiddleware,  # type: ignore[arg-type]
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
