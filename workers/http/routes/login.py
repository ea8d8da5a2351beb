"""`GET /login?token=...` (the demo's link), `POST /login` (the form) and `POST /logout`.

A valid token with the `read` scope gets a session cookie (`workers.http.sessions`) and a 303 to
`next` (a local path; default the overview). Sign-in attempts are rate limited per client address
(429 + Retry-After, `FINSENT_RATE_LOGIN_PER_MIN`). Not part of the OpenAPI document: scripts use
`Authorization: Bearer` instead.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from workers.http.context import AppContext, app_context
from workers.http.pages import SECURITY_HEADERS, render
from workers.http.ratelimit import client_address, rate_limits, retry_after
from workers.http.sessions import COOKIE, CSRF_HEADER, cookie_secure, current_session, sessions_of

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 4096


def local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else the overview (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(ord(c) < 32 for c in target):
        return "/"
    return target


@router.get("/login")
def login_link(
    request: Request,
    token: str | None = None,
    next: str | None = None,  # noqa: A002 - the conventional name
    context: AppContext = Depends(app_context),  # noqa: B008
) -> Response:
    target = local_path(next)
    if token is None:
        if context.open_access or current_session(request) is not None:
            return _redirect(target)
        return render("login.html", next=target, error=None)
    return _sign_in(request, context, token, target)


@router.post("/login")
async def login_form(request: Request, context: AppContext = Depends(app_context)) -> Response:  # noqa: B008
    body = await request.body()
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0].strip()
    return _sign_in(request, context, token, local_path((fields.get("next") or ["/"])[0]))


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = current_session(request)
    store = sessions_of(request)
    if session is not None and store is not None:
        body = await request.body()
        sent = request.headers.get(CSRF_HEADER) or (parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")).get("csrf") or [""])[0]
        if not hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode()):
            return render("login.html", status_code=403, next="/", error="Sign-out refused: stale page, reload it.")
        store.drop(session.id)
    response = _redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def _sign_in(request: Request, context: AppContext, token: str, target: str) -> Response:
    if (wait_s := retry_after(rate_limits(request).login, client_address(request))) is not None:
        refused = render("login.html", status_code=429, next=target, error=f"Too many sign-in attempts: retry in {wait_s}s.")
        refused.headers["Retry-After"] = str(wait_s)
        return refused
    store = sessions_of(request)
    principal = context.tokens.authenticate(token) if token else None
    if store is None:
        return render("login.html", status_code=503, next=target, error="Sessions are not enabled on this server.")
    if principal is None:
        return render("login.html", status_code=401, next=target, error="This token is not valid here.")
    if not principal.allows("read"):
        return render("login.html", status_code=403, next=target, error="This token lacks the read scope.")
    session = store.create(principal, token)
    response = _redirect(target)
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(store.ttl_s),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    return response


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303, headers=dict(SECURITY_HEADERS))
