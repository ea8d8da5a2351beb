"""JSON responses that can always be encoded, and the app's error bodies (`{"error": ...}`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    """ASCII JSON (`\\uXXXX` escapes): a lone surrogate echoed from a request cannot fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str).encode(
            "ascii"
        )


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> SafeJSONResponse:
    return SafeJSONResponse({"error": message, **extra}, status_code=status, headers=headers)
