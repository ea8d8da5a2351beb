"""The dashboard's pages (scope `read`, through the session cookie): `/` (overview),
`/topics/{topic}`, `/alerts/{id}` (the webhook's `{public_url}/alerts/{fingerprint}` link; an
event id works too), and `/static/...` (the page script, styles, vendored uPlot).

Unauthenticated visitors are sent to `/login?next=...`. Each page is a shell that `static/app.js`
fills from the JSON API and refreshes every `FINSENT_DASHBOARD_REFRESH_S` seconds (15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from pipeline.api_tokens import Principal
from workers.http.auth import authenticate
from workers.http.context import AppContext, app_context
from workers.http.pages import STATIC, render
from workers.http.sessions import current_session

router = APIRouter(include_in_schema=False)

MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
}


def _page(request: Request, context: AppContext, template: str, **values: object) -> Response:
    try:
        principal: Principal = authenticate(request, context, None)
    except HTTPException:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    request.state.principal = principal
    if not principal.allows("read"):
        return render("login.html", status_code=403, next="/", error="This sign-in lacks the read scope.")
    session = current_session(request)
    return render(
        template,
        principal=principal.name,
        can_admin=principal.allows("admin"),
        csrf=session.csrf if session is not None else "",
        signed_in=session is not None,
        refresh_s=f"{context.settings.dashboard_refresh_s:g}",
        **values,
    )


@router.get("/")
def overview(request: Request, context: AppContext = Depends(app_context)) -> Response:  # noqa: B008
    return _page(request, context, "overview.html", page="overview", title="Overview")


@router.get("/topics/{topic:path}")
def topic_page(topic: str, request: Request, context: AppContext = Depends(app_context)) -> Response:  # noqa: B008
    return _page(request, context, "topic.html", page="topic", title=topic, topic=topic)


@router.get("/alerts/{alert_id}")
def alert_page(alert_id: str, request: Request, context: AppContext = Depends(app_context)) -> Response:  # noqa: B008
    return _page(request, context, "alert.html", page="alert", title="Alert", alert_id=alert_id)


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
