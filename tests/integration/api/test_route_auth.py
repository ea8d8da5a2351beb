"""Every route the analysts' app registers, walked from `app.routes`: requested without
credentials, with each wrong scope and with the right one, on a real Postgres database.

`ACCESS` is the table of what each (method, path) needs; a route missing from it (or a stale
entry) fails `test_the_table_names_every_route`, so a new route cannot ship without a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Route

from pipeline.api_tokens import SCOPES, Principal, Scope, TokenRegistry, create_token
from pipeline.config import Settings
from pipeline.db import make_engine
from workers.http import AppContext
from workers.http.analyst import create_analyst_app
from workers.http.sessions import COOKIE, SessionStore

pytestmark = pytest.mark.integration

Access = Literal["public", "page", "ingest", "read", "admin"]
"""`public`: no credentials; `page`: a dashboard page (a session with `read`, else sign-in);
a scope: a bearer token (or session) holding that scope."""

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): "public",
    ("HEAD", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("HEAD", "/docs"): "public",
    ("GET", "/docs/assets/{asset}"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/metrics"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/static/{name:path}"): "public",
    ("GET", "/"): "page",
    ("GET", "/topics/{topic:path}"): "page",
    ("GET", "/alerts/{alert_id}"): "page",
    ("POST", "/v1/news"): "ingest",
    ("GET", "/v1/topics"): "read",
    ("GET", "/v1/topics/{topic}/timeline"): "read",
    ("GET", "/v1/articles"): "read",
    ("GET", "/v1/articles/{news_id}"): "read",
    ("GET", "/v1/entities/top"): "read",
    ("GET", "/v1/alerts"): "read",
    ("GET", "/v1/alerts/{alert_id}"): "read",
    ("GET", "/v1/rules"): "read",
    ("GET", "/v1/deliveries"): "read",
    ("GET", "/v1/silences"): "read",
    ("POST", "/v1/silences"): "admin",
    ("DELETE", "/v1/silences/{silence_id}"): "admin",
    ("GET", "/v1/watchlists"): "read",
    ("POST", "/v1/watchlists"): "admin",
    ("DELETE", "/v1/watchlists/{watchlist_id}"): "admin",
    ("GET", "/v1/watchlists/{watchlist_id}/notices"): "read",
}

PATH_VALUES = {
    "name": "app.js",
    "asset": "docs.js",
    "topic": "Markets",
    "news_id": "n-1",
    "alert_id": "a-1",
    "silence_id": "1",
    "watchlist_id": "1",
}
"""A value for each path parameter (any value: the walk is about who gets past authentication)."""
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
ROLES: dict[str, frozenset[Scope]] = {
    **{scope: frozenset({scope}) for scope in SCOPES},
    **{f"all-but-{scope}": frozenset(SCOPES) - {scope} for scope in SCOPES},
}
"""A token per single scope, and one holding every scope but one (scopes never imply each other)."""


def route_methods(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route `app` answers; a mount or other route kind fails."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):  # included routers flattened
        if not isinstance(route.original_route, Route) or not route.methods or route.path is None:
            kind = type(route.original_route).__name__
            raise AssertionError(f"a {kind} at {route.path!r}: add its paths to ACCESS and to route_methods")
        found |= {(method, route.path) for method in route.methods}
    return found


def concrete(path: str) -> str:
    return _PARAM.sub(lambda m: PATH_VALUES[m.group(1)], path)


@dataclass
class Walk:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    sessions: SessionStore

    def call(self, method: str, path: str, *, token: str | None = None, session: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cookies = {COOKIE: session} if session else {}
        self.client.cookies.clear()
        self.client.cookies.update(cookies)
        body = {"json": {}} if method in {"POST", "DELETE"} and path.startswith("/v1/") else {}
        response = self.client.request(
            method, concrete(path), headers=headers, follow_redirects=False, **body
        )
        self.last = response
        return response.status_code

    def session_of(self, role: str) -> str:
        principal = Principal(role, ROLES[role])
        return self.sessions.create(principal, self.tokens[role]).id


@pytest.fixture(scope="module")
def walk(pg_module_url: str) -> Iterator[Walk]:
    engine = make_engine(pg_module_url)
    tokens, entries = {}, []
    for role, scopes in ROLES.items():
        tokens[role], entry = create_token(role, scopes)
        entries.append(entry)
    context = AppContext(
        settings=Settings(rate_token_per_s=0, rate_login_per_min=0),
        tokens=TokenRegistry(entries),
        engine=engine,
    )
    app = create_analyst_app(context)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield Walk(app, client, tokens, app.state.sessions)
    finally:
        engine.dispose()


def test_the_table_names_every_route(walk: Walk) -> None:
    routes = route_methods(walk.app)
    assert routes - ACCESS.keys() == set(), "routes without an entry in ACCESS: decide who may call them"
    assert ACCESS.keys() - routes == set(), "entries in ACCESS for routes the app no longer has"


def test_a_new_route_without_an_entry_is_caught(walk: Walk) -> None:
    app = create_analyst_app(walk.app.state.context)

    @app.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    assert route_methods(app) - ACCESS.keys() == {("GET", "/v1/forgotten")}


@pytest.mark.parametrize("key", sorted(k for k, access in ACCESS.items() if access in SCOPES))
def test_a_scoped_route_needs_its_scope(walk: Walk, key: tuple[str, str]) -> None:
    method, path = key
    needed = ACCESS[key]
    assert walk.call(method, path) == 401, walk.last.text
    assert walk.last.headers["WWW-Authenticate"].startswith("Bearer")
    assert walk.call(method, path, token="fst_not-a-token") == 401
    for role, scopes in ROLES.items():
        status = walk.call(method, path, token=walk.tokens[role])
        if needed in scopes:
            assert status not in (401, 403), f"{role}: {walk.last.text}"
        else:
            assert status == 403, f"{role}: {walk.last.text}"
            assert f'scope="{needed}"' in walk.last.headers["WWW-Authenticate"]
    if method == "GET":  # a session cookie carries its token's scopes (writes also need CSRF)
        assert walk.call(method, path, session=walk.session_of(f"all-but-{needed}")) == 403
        assert walk.call(method, path, session=walk.session_of(needed)) not in (401, 403)


@pytest.mark.parametrize("key", sorted(k for k, access in ACCESS.items() if access == "page"))
def test_a_page_needs_a_session_with_read(walk: Walk, key: tuple[str, str]) -> None:
    method, path = key
    assert walk.call(method, path) == 303
    assert walk.last.headers["Location"].startswith("/login?next=")
    assert walk.call(method, path, session=walk.session_of("all-but-read")) == 403
    assert walk.call(method, path, session=walk.session_of("read")) == 200


@pytest.mark.parametrize("key", sorted(k for k, access in ACCESS.items() if access == "public"))
def test_a_public_route_needs_nothing(walk: Walk, key: tuple[str, str]) -> None:
    method, path = key
    status = walk.call(method, path)
    assert status < 400 or (key == ("POST", "/login") and status == 401), (
        walk.last.text
    )  # no token in the form
    assert "WWW-Authenticate" not in walk.last.headers
