"""Feed polling against a real local HTTP server serving the sample RSS/Atom files."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.publisher import IngestPublisher
from pipeline.ingest.samples import SAMPLES_DIR
from pipeline.ingest.sources.feeds import Feed, FeedPoller, FeedScheduler, PollResult

SAMPLES = SAMPLES_DIR
LAST_MODIFIED = formatdate(datetime(2026, 11, 27, 18, tzinfo=UTC).timestamp(), usegmt=True)


class FeedServer:
    """Serves /feed.rss and /feed.atom with an ETag; /broken answers 500. Records request headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, dict(self.headers)))
                name = self.path.lstrip("/")
                if name == "broken":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = SAMPLES / name
                if not path.is_file():
                    self.send_error(404)
                    return
                etag = f'"{name}-v1"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                data = path.read_bytes()
                self.send_response(200)
                kind = "application/rss+xml" if name.endswith(".rss") else "application/atom+xml"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


@pytest.mark.parametrize(("name", "entries"), [("feed.rss", 5), ("feed.atom", 4)])
def test_first_poll_yields_entries_second_gets_304(
    feed_server: FeedServer, client: httpx.Client, name: str, entries: int
) -> None:
    poller = FeedPoller(client)
    feed = Feed(url=feed_server.url(name), name="wire")
    first = poller.poll(feed)
    assert first.status == "ok"
    assert len(first.records) == entries
    assert all(r.item and r.item["title"] and r.item["source"] == "wire" for r in first.records)
    second = poller.poll(feed)
    assert (second.status, second.records) == ("not_modified", ())
    _, headers = feed_server.requests[-1]
    assert headers["If-None-Match"] == f'"{name}-v1"'
    assert headers["If-Modified-Since"] == LAST_MODIFIED


def test_failing_feed_backs_off_exponentially(feed_server: FeedServer, client: httpx.Client) -> None:
    now = [datetime(2026, 11, 28, 12, tzinfo=UTC)]
    poller = FeedPoller(client, backoff_base_s=30, backoff_max_s=100, clock=lambda: now[0])
    feed = Feed(url=feed_server.url("broken"))
    first = poller.poll(feed)
    assert first.status == "error" and first.error == "HTTP 500"
    assert first.retry_at == now[0] + timedelta(seconds=30)
    assert poller.poll(feed).status == "backoff"  # no request made
    assert len(feed_server.requests) == 1
    now[0] += timedelta(seconds=31)
    second = poller.poll(feed)
    assert second.status == "error" and second.retry_at == now[0] + timedelta(seconds=60)
    now[0] += timedelta(seconds=61)
    assert poller.poll(feed).retry_at == now[0] + timedelta(seconds=100)  # capped
    assert poller.failures(feed) == 3


def test_unreachable_feed_is_an_error_not_a_crash(client: httpx.Client) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = FeedPoller(client).poll(Feed(url=f"http://127.0.0.1:{port}/feed.rss"))
    assert result.status == "error" and "ConnectError" in (result.error or "")


def test_scheduler_polls_and_publishes(feed_server: FeedServer, client: httpx.Client) -> None:
    sent: list[tuple[str, bytes | None, bytes | None]] = []

    class Producer:
        def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> None:
            sent.append((topic, key, value))

        def flush(self, timeout: float | None = None) -> None:
            return

    publisher = IngestPublisher(Producer(), Deduplicator(), topic_raw="raw", topic_dlq="dlq")
    polled = threading.Event()
    results: list[PollResult] = []

    def on_result(result: PollResult) -> None:
        for record in result.records:
            assert record.item is not None
            publisher.submit(record.raw, record.item, source=result.feed.label)
        results.append(result)
        if len(results) == 2:
            polled.set()

    feeds = [
        Feed(url=feed_server.url("feed.rss"), interval_s=60),
        Feed(url=feed_server.url("feed.atom"), interval_s=60),
    ]
    scheduler = FeedScheduler(FeedPoller(client), feeds, on_result).start()
    try:
        assert polled.wait(10), "feeds were not polled on start"
    finally:
        scheduler.stop()
    assert publisher.counts.produced == 9
    assert {t for t, _, _ in sent} == {"raw"}
