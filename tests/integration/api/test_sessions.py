"""Browser sign-in: the login link sets an HttpOnly, SameSite session cookie; the cookie reads the
API and the pages; writes through it need the CSRF token and a same-site Origin; no CORS unless
configured; pages send a strict Content-Security-Policy; static files cannot escape their folder."""

from __future__ import annotations

import re
from contextlib import closing
from urllib.parse import quote

import httpx
import pytest

from tests.fixtures.analyst_app import AnalystApp

pytestmark = pytest.mark.integration

SILENCE = {"matchers": {"topic": "Earnings"}, "duration": "1h", "comment": "from the dashboard"}


def _signed_in(app: AnalystApp, role: str = "desk") -> tuple[httpx.Client, str]:
    """A cookie-only client (no bearer token) signed in through the login link, and its CSRF token."""
    client = httpx.Client(base_url=app.url, timeout=30)
    response = client.get("/login", params={"token": app.tokens[role]})
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match is not None
    return client, match.group(1)


def test_the_login_link_sets_an_httponly_samesite_cookie(sqlite_analyst_app: AnalystApp) -> None:
    with httpx.Client(base_url=sqlite_analyst_app.url) as client:
        response = client.get("/login", params={"token": sqlite_analyst_app.tokens["reader"], "next": "/topics/Macro"})
    assert response.status_code == 303 and response.headers["location"] == "/topics/Macro"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("finsent_session=")
    for attribute in ("httponly", "samesite=lax", "path=/", "max-age=43200"):
        assert attribute in cookie, cookie
    assert sqlite_analyst_app.tokens["reader"] not in response.headers["set-cookie"]


def test_a_session_reads_the_api_and_the_pages(sqlite_analyst_app: AnalystApp) -> None:
    client, _ = _signed_in(sqlite_analyst_app, "reader")
    with closing(client):
        assert client.get("/v1/topics").status_code == 200
        page = client.get(f"/alerts/{sqlite_analyst_app.seeded.fingerprint}")
        assert page.status_code == 200 and 'data-page="alert"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert "silence-form" not in page.text  # a read-only sign-in gets no silence button
        assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [("fst_not-a-token", 401, "not valid"), ("ingester", 403, "lacks the read scope")],
)
def test_a_bad_login_is_refused(sqlite_analyst_app: AnalystApp, token: str, status: int, message: str) -> None:
    value = sqlite_analyst_app.tokens.get(token, token)
    with httpx.Client(base_url=sqlite_analyst_app.url) as client:
        response = client.get("/login", params={"token": value})
        form = client.post("/login", data={"token": value})
    for answer in (response, form):
        assert answer.status_code == status and message in answer.text
        assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(sqlite_analyst_app: AnalystApp, target: str) -> None:
    with httpx.Client(base_url=sqlite_analyst_app.url) as client:
        response = client.get("/login", params={"token": sqlite_analyst_app.tokens["reader"], "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_pages_send_strangers_to_the_login(sqlite_analyst_app: AnalystApp) -> None:
    path = f"/alerts/{sqlite_analyst_app.seeded.fingerprint}"
    with httpx.Client(base_url=sqlite_analyst_app.url) as client:
        response = client.get(path)
        login = client.get("/login")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
    assert login.status_code == 200 and 'name="token"' in login.text


def test_writes_through_a_session_need_the_csrf_token_and_a_same_site_origin(sqlite_analyst_app: AnalystApp) -> None:
    client, csrf = _signed_in(sqlite_analyst_app)
    with closing(client):
        missing = client.post("/v1/silences", json=SILENCE)
        wrong = client.post("/v1/silences", json=SILENCE, headers={"X-CSRF-Token": "guess"})
        foreign = client.post(
            "/v1/silences", json=SILENCE, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        )
        made = client.post(
            "/v1/silences", json=SILENCE, headers={"X-CSRF-Token": csrf, "Origin": sqlite_analyst_app.url}
        )
        assert made.status_code == 201, made.text
        expire = client.delete(f"/v1/silences/{made.json()['id']}")
        expired = client.delete(f"/v1/silences/{made.json()['id']}", headers={"X-CSRF-Token": csrf})
    assert missing.status_code == wrong.status_code == 403
    assert "X-CSRF-Token" in missing.json()["error"]
    assert foreign.status_code == 403 and foreign.json()["error"] == "cross-origin write refused"
    assert made.json()["created_by"] == "desk"
    assert expire.status_code == 403 and expired.status_code == 204


def test_no_cors_unless_configured(sqlite_analyst_app: AnalystApp) -> None:
    headers = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    with sqlite_analyst_app.client() as client:
        preflight = client.options("/v1/topics", headers=headers)
        simple = client.get("/v1/topics", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_static_files_stay_in_their_folder(sqlite_analyst_app: AnalystApp) -> None:
    with httpx.Client(base_url=sqlite_analyst_app.url) as client:
        script = client.get("/static/app.js")
        escape = client.get("/static/%2e%2e/pages.py")
        uplot = client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert uplot.status_code == 200 and "uPlot" in uplot.text
    assert escape.status_code == 404
