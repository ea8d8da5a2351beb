"""Feeds from a real local HTTP server (the sample RSS/Atom files) into the real broker.

The server is on 127.0.0.1, which feeds may not reach by default: tests allow private addresses
(`LOCAL`) except where the refusal itself is tested.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import yaml

from pipeline.config import Settings
from pipeline.db import make_engine
from pipeline.ingest.fetch import FetchPolicy, FetchRefused, guarded_client
from pipeline.ingest.publisher import IngestCounts
from pipeline.ingest.samples import SAMPLES_DIR
from pipeline.ingest.seen import SeenStore
from pipeline.ingest.sources.feeds import Feed, FeedPoller
from pipeline.kafka.clients import make_producer
from schemas import RawNews, decode
from tests.fixtures.ingest import read_topic
from tests.fixtures.kafka import KafkaTopics
from tests.fixtures.waiting import WAIT_S, wait_until
from workers.commands import ingest as ingest_command
from workers.ingest import IngestPlan, make_publisher, run_sources

pytestmark = pytest.mark.integration

SAMPLES = SAMPLES_DIR
SHIPPED_SOURCES = Path(__file__).resolve().parents[2] / "deploy" / "sources.yaml"
LAST_MODIFIED = formatdate(datetime(2026, 11, 27, 18, tzinfo=UTC).timestamp(), usegmt=True)
LOCAL = FetchPolicy(allow_private=True)
BOMB_DECODED = 1 << 30


def gzip_bomb(decoded: int = BOMB_DECODED) -> bytes:
    """A valid gzip stream of `decoded` zero bytes (~1 MB for 1 GiB), built from one repeated
    full-flush block instead of compressing a gigabyte."""
    mib = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)  # identical for every later MiB
    end = packer.flush(zlib.Z_FINISH)[:-8]  # the final empty block, without zlib's trailer
    crc = 0
    for _ in range(decoded >> 20):
        crc = zlib.crc32(mib, crc)
    return head + block * ((decoded >> 20) - 1) + end + struct.pack("<II", crc, decoded & 0xFFFFFFFF)


class FeedServer:
    """Serves the sample RSS at any *.rss path and Atom at any *.atom path, with an ETag; /broken
    answers 500; /to?url=U redirects to U; /bomb.rss is `bomb` sent as gzip. Records request paths
    and headers."""

    def __init__(self, bomb: bytes = b"") -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.bomb = bomb
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, dict(self.headers)))
                name = self.path.lstrip("/")
                if name.startswith("to?"):
                    self.send_response(302)
                    self.send_header("Location", parse_qs(urlsplit(self.path).query)["url"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if name == "bomb.rss":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(outer.bomb)))
                    self.end_headers()
                    self.wfile.write(outer.bomb)
                    return
                if name == "broken":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sample = (
                    "feed.rss" if name.endswith(".rss") else "feed.atom" if name.endswith(".atom") else name
                )
                path = SAMPLES / sample
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

    def url(self, name: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.httpd.server_address[1]}/{name}"


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
    poller = FeedPoller(client, policy=LOCAL)
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
    poller = FeedPoller(client, policy=LOCAL, backoff_base_s=30, backoff_max_s=100, clock=lambda: now[0])
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
    result = FeedPoller(client, policy=LOCAL).poll(Feed(url=f"http://127.0.0.1:{port}/feed.rss"))
    assert result.status == "error" and "ConnectError" in (result.error or "")


def test_scheduled_feeds_reach_the_broker_and_repolls_are_not_resent(
    feed_server: FeedServer,
    client: httpx.Client,
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    kafka_settings: Settings,
    sqlite_url: str,
) -> None:
    """The long-running path (APScheduler jobs) into the real broker; a second poll after the
    feed's validators were dropped fetches everything again and sends nothing new."""
    engine = make_engine(sqlite_url)
    producer = make_producer(kafka_bootstrap)
    feeds = (
        Feed(url=feed_server.url("feed.rss"), interval_s=3_600),
        Feed(url=feed_server.url("feed.atom"), interval_s=3_600),
    )
    plan = IngestPlan(feeds=feeds, fetch=LOCAL)
    publisher = make_publisher(
        plan, producer, seen=SeenStore(engine), topic_raw=kafka_topics.raw, topic_dlq=kafka_topics.dlq
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=run_sources, args=(plan, publisher), kwargs={"stop": stop, "http_client": client}
    )
    runner.start()
    try:
        wait_until(lambda: publisher.counts.ingested == 9, "both feeds polled and published")
    finally:
        stop.set()
        runner.join(WAIT_S)
    assert not runner.is_alive()
    assert publisher.counts == IngestCounts(ingested=9, produced=9)
    records = read_topic(kafka_bootstrap, kafka_topics.raw, 9)
    assert len({r.key for r in records}) == 9

    again = make_publisher(  # a restarted process: fresh memory, the same database
        plan, producer, seen=SeenStore(engine), topic_raw=kafka_topics.raw, topic_dlq=kafka_topics.dlq
    )
    repoll = run_sources(replace(plan, once=True), again, stop=threading.Event(), http_client=client)
    assert repoll == IngestCounts(ingested=9, deduplicated=9)
    assert len(read_topic(kafka_bootstrap, kafka_topics.raw, 9)) == 9  # nothing re-sent
    producer.close(timeout=5)
    engine.dispose()


def test_the_shipped_sources_file_into_the_broker(
    feed_server: FeedServer,
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    kafka_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`finsent ingest --sources deploy/sources.yaml --once`, the file as shipped with only its
    feed hosts pointed at the local server (same paths, names, intervals, zones)."""
    shipped = yaml.safe_load(SHIPPED_SOURCES.read_text(encoding="utf-8"))
    for feed in shipped["feeds"]:
        path = urlsplit(feed["url"]).path
        feed["url"] = feed_server.url(path.lstrip("/"))
    local = tmp_path / "sources.yaml"
    local.write_text(yaml.safe_dump(shipped), encoding="utf-8")

    parser = argparse.ArgumentParser(prog="finsent")
    ingest_command.register(parser.add_subparsers())
    args = parser.parse_args(["ingest", "--sources", str(local), "--once"])
    settings = kafka_settings.model_copy(update={"data_dir": tmp_path, "feeds_allow_private": True})
    assert args.handler(args, settings) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"ingested": 9, "produced": 9, "deduplicated": 0, "dlq": 0, "rejected": 0}
    records = read_topic(kafka_bootstrap, kafka_topics.raw, 9)
    sources = {decode(r.value, RawNews).source for r in records}  # type: ignore[union-attr]
    assert sources == {f["name"] for f in shipped["feeds"]}
    assert {path for path, _ in feed_server.requests} == {urlsplit(f["url"]).path for f in shipped["feeds"]}


def redirect_chain(server: FeedServer, target: str, hops: int, host: str = "127.0.0.1") -> str:
    """A URL that redirects `hops` times before landing on `target`."""
    url = target
    for _ in range(hops):
        url = server.url("to?url=" + quote(url, safe=""), host=host)
    return url


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/feed.rss", "http://169.254.169.254/latest/meta-data/"]
)
def test_a_redirect_to_a_non_public_address_is_refused(
    feed_server: FeedServer, client: httpx.Client, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The feed's own host is allowed by name (`localhost`); the hop it redirects to is not."""
    target = target.format(port=feed_server.httpd.server_address[1])
    poller = FeedPoller(client, policy=FetchPolicy(allow_hosts=frozenset({"localhost"})))
    feed = Feed(url=redirect_chain(feed_server, target, 1, host="localhost"), name="wire")
    result = poller.poll(feed)
    address = urlsplit(target).hostname
    assert result.status == "error" and result.records == ()
    assert result.error is not None and result.error.startswith("FetchRefused: ")
    assert f"resolves to {address}, not a public address" in result.error
    assert [path for path, _ in feed_server.requests] == [
        urlsplit(feed.url).path + "?" + urlsplit(feed.url).query
    ]
    assert any(
        "feed wire failed" in r.getMessage() and "not a public address" in r.getMessage()
        for r in caplog.records
    )


def test_the_feed_url_itself_must_be_public_unless_allowed(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    refused = FeedPoller(client).poll(Feed(url=feed_server.url("feed.rss")))
    assert refused.status == "error" and "127.0.0.1, not a public address" in (refused.error or "")
    assert feed_server.requests == []  # refused before connecting
    assert FeedPoller(client, policy=LOCAL).poll(Feed(url=feed_server.url("feed.rss"))).status == "ok"


def test_redirects_are_followed_up_to_five_hops(feed_server: FeedServer, client: httpx.Client) -> None:
    poller = FeedPoller(client, policy=LOCAL)
    five = poller.poll(Feed(url=redirect_chain(feed_server, feed_server.url("feed.rss"), 5)))
    assert five.status == "ok" and len(five.records) == 5
    six = poller.poll(Feed(url=redirect_chain(feed_server, feed_server.url("feed.atom"), 6)))
    assert six.status == "error" and "more than 5 redirects" in (six.error or "")


def test_the_guarded_client_checks_the_address_it_connects_to(feed_server: FeedServer) -> None:
    """No pre-check involved: the network backend resolves `localhost`, refuses its loopback
    addresses and never connects; with the host allowed, it connects to the address it checked."""
    url = feed_server.url("feed.rss", host="localhost")
    with guarded_client(FetchPolicy()) as refusing, pytest.raises(FetchRefused, match="not a public address"):
        refusing.get(url)
    assert feed_server.requests == []
    with guarded_client(FetchPolicy(allow_hosts=frozenset({"localhost"}))) as allowed:
        assert allowed.get(url).status_code == 200


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.fixture
def bomb_server(bomb: bytes) -> Iterator[FeedServer]:
    server = FeedServer(bomb)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_a_gzip_bomb_is_refused_within_bounded_memory(bomb_server: FeedServer, bomb: bytes) -> None:
    """1 GiB of zeros in ~1 MB of gzip: decoding stops at the 20 MiB cap, memory stays bounded."""
    assert len(bomb) < 2 * 1024 * 1024
    with httpx.Client(timeout=30.0) as client:
        poller = FeedPoller(client, policy=LOCAL)
        tracemalloc.start()
        try:
            result = poller.poll(Feed(url=bomb_server.url("bomb.rss")))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.status == "error"
    assert result.error == f"FetchRefused: feed larger than {LOCAL.max_bytes} bytes once decoded"
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
