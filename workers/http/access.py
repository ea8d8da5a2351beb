"""Access log and request metrics, as ASGI middleware.

One log line per request: method, path (never the query string, which may carry a login
token), status, seconds, and the principal's name (never a token). Prometheus:
`finsent_http_requests_total{route, method, code}` and `finsent_http_request_seconds{route}`,
labelled by route template (`/v1/articles/{news_id}`), so unknown paths share one label, and by
method from a fixed set (`METHOD_LABELS`; any other token a client sends is `other`), so no
request can add a series.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from workers.http.limits import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("finsent.http")

UNMATCHED = "unmatched"
METHOD_LABELS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """`method` when it is a standard one, else `other` (h11 accepts any token as a method)."""
    return method if method in METHOD_LABELS else OTHER_METHOD


class AccessLog:
    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "finsent_http_requests", "HTTP requests by route and status", ["route", "method", "code"], registry=registry
        )
        self.seconds = Histogram(
            "finsent_http_request_seconds", "HTTP request duration", ["route"], registry=registry
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # when the app fails before answering, the server answers 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.requests.labels(route=route, method=method_label(scope["method"]), code=str(status)).inc()
            self.seconds.labels(route=route).observe(elapsed)
            principal = getattr(scope.get("state", {}).get("principal"), "name", "-")
            log.info(
                "%s %s %.3fs",
                scope["method"],
                scope["path"].encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"),
                elapsed,
                extra={"status": status, "principal": principal},
            )
