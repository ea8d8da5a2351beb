"""HTTP push: `POST /v1/news` (a JSON object or array), plus `GET /healthz` and `GET /metrics`.

Answers (JSON bodies, `{"error": ...}` on 4xx):

- 202 `{"accepted": n, "items": [{"id", "verdict", "duplicate_of"}]}`;
- 400 body not JSON (with the parser's message), or not an object / non-empty array;
- 404 / 405 unknown path / method; 411 no Content-Length;
- 413 body over `max_body_bytes` (not read) or more than `max_items` items;
- 415 Content-Type not `application/json`;
- 422 some item is invalid: `{"errors": [{"index", "field", "reason"}]}`. Nothing of that request
  is produced, and nothing goes to the DLQ: the sender holds the payload and was told why.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, tzinfo
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from pipeline.ingest.normalize import InvalidItem
from pipeline.ingest.publisher import IngestPublisher
from schemas import RawNews

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_ITEMS = 1_000
SOURCE = "http-push"

HealthCheck = Callable[[], dict[str, Any]]


class IngestHTTPServer:
    """The push endpoint on a `ThreadingHTTPServer`; `port=0` picks a free port (see `.port`)."""

    def __init__(
        self,
        publisher: IngestPublisher,
        registry: CollectorRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_items: int = DEFAULT_MAX_ITEMS,
        default_tz: tzinfo = UTC,
        health: HealthCheck | None = None,
    ) -> None:
        self.publisher = publisher
        self.registry = registry
        self.max_body_bytes = max_body_bytes
        self.max_items = max_items
        self.default_tz = default_tz
        self.health = health or (lambda: {"ok": True})
        self.requests = Counter(
            "finsent_ingest_http_requests", "Push requests by status code", ["code"], registry=registry
        )
        handler = type("_BoundHandler", (_Handler,), {"app": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="ingest-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> IngestHTTPServer:
        self._thread.start()
        log.info("ingest HTTP endpoint on %s/v1/news", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> IngestHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    app: IngestHTTPServer
    server_version = "finsent-ingest"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    # ----------------------------------------------------------------------------- routing

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status = self.app.health()
            self._json(HTTPStatus.OK if status.get("ok") else HTTPStatus.SERVICE_UNAVAILABLE, status)
        elif path == "/metrics":
            self._send(HTTPStatus.OK, generate_latest(self.app.registry), CONTENT_TYPE_LATEST)
        elif path == "/v1/news":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST", headers={"Allow": "POST"})
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found: POST /v1/news, GET /healthz, GET /metrics")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?", 1)[0] != "/v1/news":
            self._error(HTTPStatus.NOT_FOUND, "not found: POST /v1/news")
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be application/json, got {content_type or 'none'!r}",
                close=True,
            )
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required", close=True)
            return
        length = int(length_header)
        if length > self.app.max_body_bytes:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the limit of {self.app.max_body_bytes}",
                close=True,
            )
            return
        self._accept(self.rfile.read(length))

    # ----------------------------------------------------------------------------- push

    def _accept(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except UnicodeDecodeError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"body is not UTF-8: {exc}")
            return
        except json.JSONDecodeError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"invalid JSON: {exc}")
            return
        items = payload if isinstance(payload, list) else [payload]
        if not items or not isinstance(payload, dict | list):
            self._error(HTTPStatus.BAD_REQUEST, "expected a JSON object or a non-empty array of objects")
            return
        if len(items) > self.app.max_items:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{len(items)} items exceed the limit of {self.app.max_items}",
            )
            return
        publisher = self.app.publisher
        prepared: list[RawNews] = []
        errors: list[dict[str, object]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise InvalidItem(f"expected a JSON object, got {type(item).__name__}")
                prepared.append(publisher.prepare(item, source=SOURCE, default_tz=self.app.default_tz))
            except InvalidItem as exc:
                errors.append({"index": index, "field": exc.field, "reason": exc.reason})
        if errors:
            self._json(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "invalid items", "errors": errors})
            return
        results = []
        for raw in prepared:
            outcome = publisher.publish(raw, source=SOURCE)
            verdict = outcome.verdict
            results.append(
                {
                    "id": raw.id,
                    "verdict": verdict.kind if verdict else outcome.kind,
                    "duplicate_of": verdict.duplicate_of if verdict else None,
                }
            )
        self._json(HTTPStatus.ACCEPTED, {"accepted": len(results), "items": results})

    # ----------------------------------------------------------------------------- replies

    def _error(
        self, status: HTTPStatus, message: str, *, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        self._json(status, {"error": message}, headers=headers, close=close)

    def _json(
        self,
        status: HTTPStatus,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        data = json.dumps(body, default=str).encode("utf-8")
        self._send(status, data, "application/json", headers=headers, close=close)

    def _send(
        self,
        status: HTTPStatus,
        data: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        self.app.requests.labels(code=str(int(status))).inc()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:  # the request body was not read: the connection cannot be reused
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError) as exc:  # the client left first
            log.debug("reply %d not delivered: %s", status, exc)
            self.close_connection = True
