"""A local webhook receiver (stdlib `ThreadingHTTPServer`) that verifies signatures with `verify()`.

For `finsent demo` and the tests; also a reference for writing a receiver. It records every
verified delivery; `mode` makes it answer 500 / 429 (with Retry-After) to rehearse outages.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alerts.signing import InvalidSignature, verify


@dataclass(frozen=True, slots=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)
    """When the request arrived (seconds since the epoch)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ReceiverLog:
    deliveries: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    """The webhook-id of every request, answered or not (retries repeat it)."""

    @property
    def webhook_ids(self) -> list[str]:
        return [d.webhook_id for d in self.deliveries]


class LocalReceiver:
    """`with LocalReceiver(secret) as rx: ... rx.url ...`; `rx.mode = "500"` / `"429"` / `"slow"` / `"ok"`."""

    def __init__(
        self, secret: str, host: str = "127.0.0.1", port: int = 0, *, retry_after_s: int = 1
    ) -> None:
        self.secret = secret
        self.log = ReceiverLog()
        self.mode = "ok"
        self.retry_after_s = retry_after_s
        self.slow_s = 1.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> LocalReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.mode == "slow":
                    time.sleep(receiver.slow_s)
                with receiver._lock:
                    receiver.log.attempts.append(headers.get("webhook-id", ""))
                    mode = receiver.mode
                    if mode == "500":
                        receiver.log.answered.append(500)
                        self._reply(500)
                        return
                    if mode == "429":
                        receiver.log.answered.append(429)
                        self._reply(429, {"retry-after": str(receiver.retry_after_s)})
                        return
                    try:
                        verify(receiver.secret, headers, body)
                    except InvalidSignature as exc:
                        receiver.log.rejected.append(str(exc))
                        receiver.log.answered.append(401)
                        self._reply(401)
                        return
                    receiver.log.deliveries.append(Received(headers["webhook-id"], headers, body))
                    receiver.log.answered.append(204)
                self._reply(204)

            def _reply(self, code: int, extra: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler
