"""HTML pages of the dashboard: Jinja2 templates (autoescaped) and the headers every page carries.

Pages are shells: the data comes from the JSON API, fetched and rendered by `static/app.js` with
DOM text nodes only (every headline is text, never markup), under a Content-Security-Policy that
allows scripts and styles from this origin only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
)


def _asset_version() -> str:
    blob = b"".join(p.read_bytes() for p in sorted(STATIC.rglob("*")) if p.is_file())
    return hashlib.sha256(blob).hexdigest()[:12]


ASSET_VERSION: Final = _asset_version()
"""Appended to static URLs (`?v=`) so a new release is never served from a stale cache."""


def render(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _environment.get_template(template).render(asset_version=ASSET_VERSION, **values)
    return HTMLResponse(html, status_code=status_code, headers=dict(SECURITY_HEADERS))
