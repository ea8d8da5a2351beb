"""`same_origin`: refuse a write whose `Origin` is another site (unless CORS allows that origin).

Browsers send `Origin` with every cross-site POST/DELETE. With the session's CSRF token
(`workers.http.sessions`) this keeps another site from writing through a signed-in browser, and on
an open loopback server (no tokens) from writing at all. The origin must be one of the server's
own (`SiteNames.allows_origin`: `FINSENT_PUBLIC_URL`'s, or the request's own on one of the names
the server answers to), never merely the one its `Host` names: under DNS rebinding both are the
attacker's.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from workers.http.context import AppContext, app_context
from workers.http.hosts import site_names


def allowed_origins(context: AppContext) -> list[str]:
    """The origins configured for CORS (`FINSENT_CORS_ORIGINS`, comma separated)."""
    return [o.strip().rstrip("/") for o in (context.settings.cors_origins or "").split(",") if o.strip()]


def same_origin(request: Request, context: AppContext = Depends(app_context)) -> None:  # noqa: B008
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser's cross-site request (curl, scripts, same-origin GET)
    if origin.rstrip("/") in allowed_origins(context):
        return
    if site_names(request).allows_origin(origin, request.headers.get("host", "")):
        return
    raise HTTPException(status_code=403, detail="cross-origin write refused")
