"""`/healthz` and `/metrics` for a worker, served from a daemon thread (wsgiref + prometheus-client).

`start_ops_server(settings, ...)` serves them on `FINSENT_METRICS_PORT`, bound to
`FINSENT_METRICS_HOST` (127.0.0.1 unless configured: set 0.0.0.0 where a scraper on another host,
e.g. in compose, must reach it). `finsent serve` has its own `/healthz` and `/metrics` routes.

Each connection gets its own daemon thread and a socket timeout (`CONNECTION_TIMEOUT_S`), so an
idle or slow client neither blocks a probe of `/healthz` nor holds a thread for long.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from pipeline.config import Settings

HealthCheck = Callable[[], dict[str, Any]]
"""Returns a JSON-able status; key `ok` (bool) decides 200 vs 503."""


CONNECTION_TIMEOUT_S = 5.0
"""Seconds a connection may stay silent (sending its request, or between reads) before it is closed."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck connection never keeps the process from exiting


class _QuietHandler(WSGIRequestHandler):
    timeout = CONNECTION_TIMEOUT_S  # StreamRequestHandler sets it on the connection's socket

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

        self._server: WSGIServer = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
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
