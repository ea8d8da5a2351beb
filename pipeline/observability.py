"""`/healthz` and `/metrics` for a worker, served from a daemon thread (wsgiref + prometheus-client).

`start_ops_server(settings, ...)` serves them on `FINSENT_METRICS_PORT`, bound to
`FINSENT_METRICS_HOST` (127.0.0.1 unless configured: set 0.0.0.0 where a scraper on another host,
e.g. in compose, must reach it). `finsent serve` has its own `/healthz` and `/metrics` routes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from pipeline.config import Settings

HealthCheck = Callable[[], dict[str, Any]]
"""Returns a JSON-able status; key `ok` (bool) decides 200 vs 503."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return


class OpsServer:
    """HTTP server for operations endpoints; `port=0` picks a free port (see `.port`)."""

    def __init__(self, registry: CollectorRegistry, health: HealthCheck, host: str = "127.0.0.1", port: int = 0):
        metrics_app = make_wsgi_app(registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "/")
            if path == "/metrics":
                return metrics_app(environ, start_response)
            if path == "/healthz":
                status = health()
                code = "200 OK" if status.get("ok") else "503 Service Unavailable"
                start_response(code, [("Content-Type", "application/json")])
                return [json.dumps(status, default=str).encode()]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /healthz or /metrics\n"]

        self._server: WSGIServer = make_server(host, port, app, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_ops_server(settings: Settings, registry: CollectorRegistry, health: HealthCheck) -> OpsServer | None:
    """The worker's ops server on the configured host and port, started; None when no port is set."""
    if settings.metrics_port is None:
        return None
    return OpsServer(registry, health, host=settings.metrics_host, port=settings.metrics_port).start()
