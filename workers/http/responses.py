"""JSON responses that can always be encoded, the app's error bodies (`{"error": ...}`), and the
`Allow` header of a 405 (every method of every route at the path, not only the first route's)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.routing import Match


class SafeJSONResponse(JSONResponse):
    """ASCII JSON (`\\uXXXX` escapes): a lone surrogate echoed from a request cannot fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str).encode(
            "ascii"
        )


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> SafeJSONResponse:
    return SafeJSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def allowed_methods(request: Request) -> str:
    """The `Allow` header for `request`'s path: the methods of every route whose path matches it.

    Starlette answers 405 from the first route whose path matches, listing that route's methods
    only; `GET /v1/silences` and `POST /v1/silences` are two routes, so it would say `Allow: GET`.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and route.methods:
            methods |= route.methods
    return ", ".join(sorted(methods))
