"""A receiver that answers a webhook with 50 MB: the dispatcher reads a few KiB of it, keeps a short
printable line as `last_error`, and the read API serves that line as JSON text (the dashboard puts
it in text nodes only)."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import Engine, select

from alerts.dispatcher import MAX_ERROR_CHARS
from pipeline.api_tokens import TokenRegistry
from pipeline.config import Settings
from pipeline.db.models import WebhookDelivery
from tests.fixtures.waiting import WAIT_S
from tests.integration.test_alerts_delivery import FakeClock, dispatcher_for, enqueue
from workers.http import AppContext
from workers.http.analyst import create_analyst_app
from workers.http.server import ServerThread

pytestmark = pytest.mark.integration

BODY_BYTES = 50 * 1024 * 1024
HOSTILE = b"<script>alert(1)</script>\r\n\x1b[2J"


class _HugeAnswer(ThreadingHTTPServer):
    daemon_threads = True
    sent = 0


class _Handler(BaseHTTPRequestHandler):
    server: _HugeAnswer

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(500)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(BODY_BYTES))
        self.end_headers()
        chunk = HOSTILE + b"A" * (65536 - len(HOSTILE))
        try:
            while self.server.sent < BODY_BYTES:
                self.wfile.write(chunk)
                self.server.sent += len(chunk)
                chunk = b"A" * 65536
        except OSError:
            pass  # the client hung up: what it did not want is never sent

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def huge_receiver() -> Iterator[_HugeAnswer]:
    server = _HugeAnswer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_50_mb_answer_is_read_only_in_part_and_shown_short(
    pg_engine: Engine, huge_receiver: _HugeAnswer
) -> None:
    url = f"http://127.0.0.1:{huge_receiver.server_address[1]}/hook"
    clock = FakeClock()
    dispatcher = dispatcher_for(pg_engine, url, clock)
    (wid,) = enqueue(pg_engine, clock, "desk", url)
    tracemalloc.start()
    started = time.monotonic()
    try:
        stats = dispatcher.run_once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        dispatcher.close()
    elapsed = time.monotonic() - started
    assert stats.retried == 1
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while dispatching"
    assert elapsed < 5
    time.sleep(0.2)  # let the receiver notice the closed connection
    assert huge_receiver.sent < BODY_BYTES / 2, f"{huge_receiver.sent} bytes went out"

    with pg_engine.connect() as conn:
        error = conn.scalar(select(WebhookDelivery.last_error).where(WebhookDelivery.webhook_id == wid))
    assert error is not None and len(error) <= MAX_ERROR_CHARS
    assert error.startswith("HTTP 500: <script>alert(1)</script>   [2J") and error.endswith("A\u2026")

    context = AppContext(settings=Settings(), tokens=TokenRegistry([]), engine=pg_engine, open_access=True)
    with ServerThread(create_analyst_app(context)) as server:
        answer = httpx.get(f"{server.url}/v1/deliveries", timeout=WAIT_S)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert [d["last_error"] for d in answer.json()["items"]] == [error]
