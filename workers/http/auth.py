"""Authentication and scopes for every route: `Depends(require_scope("read"))`.

A request authenticates with `Authorization: Bearer <token>` (checked against the configured
hashes in constant time), or through one of `AppContext.authenticators` (hooks for other
credentials, e.g. a dashboard session cookie). No credentials or an unknown token: 401 with
`WWW-Authenticate: Bearer`; a valid token without the scope: 403. On a loopback address with no
tokens configured (`AppContext.open_access`) every request acts as `local` with every scope.
The principal is kept on `request.state.principal` (the access log names it; never the token).
Each principal's requests are rate limited (`workers.http.ratelimit`): beyond it, 429 + Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipeline.api_tokens import SCOPES, Principal, Scope
from workers.http.context import AppContext, app_context
from workers.http.ratelimit import limit, rate_limits

LOCAL = Principal("local", frozenset(SCOPES))
"""Who every request is when access is open (loopback, no tokens configured)."""

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token from `finsent token create --scope SCOPE` (scopes: ingest, read, admin).",
)


def authenticate(
    request: Request, context: AppContext, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The principal of `request`, or HTTPException 401."""
    if context.open_access:
        return LOCAL
    if credentials is not None:
        principal = context.tokens.authenticate(credentials.credentials)
        if principal is None:
            raise _unauthorized("invalid token")
        return principal
    for authenticator in context.authenticators:
        found = authenticator(request)
        if found is not None:
            return found
    raise _unauthorized("missing credentials: send Authorization: Bearer <token>")


def require_scope(scope: Scope) -> Callable[..., Principal]:
    """A dependency that authenticates the request and requires `scope` (401 / 403 otherwise)."""

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008 - FastAPI idiom
        context: AppContext = Depends(app_context),  # noqa: B008 - FastAPI idiom
    ) -> Principal:
        principal = authenticate(request, context, credentials)
        request.state.principal = principal
        limit(rate_limits(request).token, principal.name, f"requests for token {principal.name!r}")
        if not principal.allows(scope):
            raise HTTPException(
                status_code=403,
                detail=f"token {principal.name!r} lacks the {scope!r} scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="finsent"'})
