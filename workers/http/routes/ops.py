"""`GET /healthz` and `GET /metrics` (no authentication: probes and Prometheus scrape them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from workers.http.context import AppContext, app_context
from workers.http.responses import SafeJSONResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and dependencies", responses={503: {"description": "a check failed"}})
def healthz(context: AppContext = Depends(app_context)) -> SafeJSONResponse:  # noqa: B008
    checks: dict[str, bool] = {}
    for name, check in context.health_checks.items():
        try:
            checks[name] = bool(check())
        except Exception:  # noqa: BLE001 - a failing check is an unhealthy answer, not a 500
            checks[name] = False
    ok = all(checks.values())
    body: dict[str, Any] = {"ok": ok, "checks": checks}
    if context.publisher is not None:
        body["ingest"] = context.publisher.counts.as_dict()
    return SafeJSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(context: AppContext = Depends(app_context)) -> Response:  # noqa: B008
    return Response(generate_latest(context.registry), media_type=CONTENT_TYPE_LATEST)
