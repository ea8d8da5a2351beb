"""`/docs`: Swagger UI for `/openapi.json`, served from this origin under the pages' CSP.

Swagger UI is vendored (`static/vendor/swagger-ui`: pinned version, licence and checksums in
`static/vendor/README.md`) and served from `/docs/assets/...`, so the page loads nothing from
another origin and works offline. `static/docs.js` starts it (no inline script: the page keeps
`script-src 'self'`), with the validator badge off (it would call a public validator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from workers.http.pages import STATIC, render

OPENAPI_URL: Final = "/openapi.json"
_JS: Final = "text/javascript; charset=utf-8"
ASSETS: Final[dict[str, tuple[Path, str]]] = {
    "swagger-ui-bundle.js": (STATIC / "vendor" / "swagger-ui" / "swagger-ui-bundle.js", _JS),
    "swagger-ui.css": (STATIC / "vendor" / "swagger-ui" / "swagger-ui.css", "text/css; charset=utf-8"),
    "docs.js": (STATIC / "docs.js", _JS),
}
"""What `/docs/assets/{asset}` serves: these files only."""

router = APIRouter(include_in_schema=False)


@router.api_route("/docs", methods=["GET", "HEAD"])
def docs() -> HTMLResponse:
    return render("docs.html", openapi_url=OPENAPI_URL)


@router.get("/docs/assets/{asset}")
def docs_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(status_code=404, detail="no such file")
    path, media_type = ASSETS[asset]
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=media_type, headers=headers)
