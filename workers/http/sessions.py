"""Dashboard sessions: a login link sets an HttpOnly, SameSite=Lax cookie; writes need a CSRF token.

`GET /login?token=...` (the Jupyter-style link `finsent demo --serve` prints) or the login form
exchanges a valid API token for a session: a random id in the `finsent_session` cookie (HttpOnly,
SameSite=Lax so the webhook's link opens the alert page when signed in; Secure when
`FINSENT_PUBLIC_URL` or the request is https, `cookie_secure`),
held in memory by the serving process (a restart signs everyone out) for `FINSENT_SESSION_HOURS`.
The session has the token's name and scopes and ends early when the token is no longer configured.

`session_authenticator` is one of `AppContext.authenticators`. A request that authenticates by the
cookie with an unsafe method (POST, DELETE, ...) must carry the session's CSRF token in
`X-CSRF-Token` (the dashboard reads it from its page), else 403. Bearer-token requests need none
(a browser never attaches one by itself).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

from pipeline.api_tokens import Principal, digest
from workers.http.hosts import site_names

COOKIE = "finsent_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SESSIONS = 10_000
MAX_SESSIONS_PER_TOKEN = 20
"""A token's sessions beyond this push out that token's oldest (never another token's)."""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    principal: Principal
    token_digest: str
    csrf: str
    expires_at: float
    """`time.monotonic()` deadline."""


class SessionStore:
    """Sessions of one serving process (thread-safe). A token keeps at most `per_token` sessions
    (its oldest go first); beyond `MAX_SESSIONS` in all, expired ones go, then the oldest."""

    def __init__(self, ttl_s: float, *, per_token: int = MAX_SESSIONS_PER_TOKEN) -> None:
        self.ttl_s = ttl_s
        self.per_token = per_token
        self._sessions: dict[str, Session] = {}
        self._by_token: dict[str, dict[str, None]] = {}
        """Token digest -> its session ids, oldest first."""
        self._lock = threading.Lock()

    def create(self, principal: Principal, token: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            principal=principal,
            token_digest=digest(token),
            csrf=secrets.token_urlsafe(32),
            expires_at=time.monotonic() + self.ttl_s,
        )
        with self._lock:
            self._sessions[session.id] = session
            own = self._by_token.setdefault(session.token_digest, {})
            own[session.id] = None
            while len(own) > self.per_token:
                self._remove(next(iter(own)))
            if len(self._sessions) > MAX_SESSIONS:
                now = time.monotonic()
                for expired in [s.id for s in self._sessions.values() if s.expires_at <= now]:
                    self._remove(expired)
            while len(self._sessions) > MAX_SESSIONS:
                self._remove(next(iter(self._sessions)))
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_at <= time.monotonic():
                self._remove(session_id)
                return None
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._remove(session_id)

    def __len__(self) -> int:
        return len(self._sessions)

    def _remove(self, session_id: str) -> None:
        """Forget a session (the lock held)."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        own = self._by_token.get(session.token_digest, {})
        own.pop(session_id, None)
        if not own:
            self._by_token.pop(session.token_digest, None)


def cookie_secure(request: Request) -> bool:
    """Whether the session cookie is `Secure`: the public URL is https (a TLS proxy in front, which
    may speak plain HTTP to us), or this request itself came over https."""
    return site_names(request).https or request.url.scheme == "https"


def sessions_of(request: Request) -> SessionStore | None:
    store: SessionStore | None = getattr(request.app.state, "sessions", None)
    return store


def current_session(request: Request) -> Session | None:
    """The request's valid session (its token still configured), or None."""
    store = sessions_of(request)
    session_id = request.cookies.get(COOKIE)
    if store is None or not session_id:
        return None
    session = store.get(session_id)
    if session is None:
        return None
    configured = request.app.state.context.tokens.entries
    if not any(hmac.compare_digest(e.digest, session.token_digest) for e in configured):
        store.drop(session.id)
        return None
    return session


def session_authenticator(request: Request) -> Principal | None:
    """The principal of the request's session cookie; 403 for an unsafe method without its CSRF token."""
    session = current_session(request)
    if session is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode()):
            raise HTTPException(status_code=403, detail=f"missing or wrong {CSRF_HEADER} for this session")
    return session.principal
