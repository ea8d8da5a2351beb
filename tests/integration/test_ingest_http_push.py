"""`POST /v1/news`, `/healthz`, `/metrics` of the live app, over the real broker and Postgres."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine, func, select

from pipeline.db.models import IngestSeen
from pipeline.kafka.clients import make_producer
from schemas import RawNews, decode
from tests.fixtures.ingest import LiveApp, read_topic
from tests.fixtures.kafka import KafkaTopics
from tests.fixtures.waiting import WAIT_S

pytestmark = pytest.mark.integration

ITEM = {
    "title": "Acme beats estimates",
    "url": "https://example.com/acme",
    "published_at": "2026-11-27T14:00:00Z",
}


def raw_request(app: LiveApp, request: bytes, *, timeout_s: float = WAIT_S) -> bytes:
    """Send `request` bytes as they are; return everything the server answers until it closes."""
    port = int(app.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_accepted_items_reach_the_broker_and_repeats_are_duplicates(
    live_app: LiveApp, kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    with live_app.client() as client:
        first = client.post("/v1/news", json=ITEM)
        assert first.status_code == 202
        body = first.json()
        assert (body["accepted"], body["items"][0]["status"]) == (1, "accepted")
        again = client.post("/v1/news", json=[ITEM, {**ITEM, "url": "https://example.com/other"}])
    assert again.status_code == 202
    original = body["items"][0]["id"]
    assert [(i["status"], i["match"], i["duplicate_of"]) for i in again.json()["items"]] == [
        ("duplicate", "duplicate_id", original),
        ("duplicate", "duplicate_title", original),
    ]
    [record] = read_topic(kafka_bootstrap, kafka_topics.raw, 1)
    news = decode(record.value, RawNews)
    assert isinstance(news, RawNews) and news.id == original and record.key == original.encode()
    assert read_topic(kafka_bootstrap, kafka_topics.dlq, 0) == []  # rejections are answered, not dead-lettered


def test_each_item_is_answered_and_the_valid_ones_go_through(
    live_app: LiveApp, kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    items = [
        ITEM,
        {"body": "no title"},
        {**ITEM, "url": "https://example.com/b", "published_at": "soon"},
        "not an object",
        {"title": "Lone \ud800 surrogate", "url": "https://example.com/c"},
        {"title": ["a", "list"]},
    ]
    body = json.dumps(items).encode()  # ensure_ascii: the surrogate travels as the escape \ud800
    with live_app.client() as client:
        response = client.post("/v1/news", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 202
        answer = response.json()
        statuses = [i["status"] for i in answer["items"]]
        # the lone surrogate is cleaned (U+FFFD) by the contract's sanitising step, not refused
        assert statuses == ["accepted", "rejected", "rejected", "rejected", "accepted", "rejected"]
        rejected = [i for i in answer["items"] if i["status"] == "rejected"]
        assert [i["field"] for i in rejected] == ["title", "published_at", None, "title"]
        assert all(i["reason"] for i in rejected)
        all_bad = client.post("/v1/news", json=[{"body": "x"}, 7])
        assert all_bad.status_code == 422 and all_bad.json()["rejected"] == 2
    records = read_topic(kafka_bootstrap, kafka_topics.raw, 2)
    assert len(records) == 2
    assert "Lone \ufffd surrogate" in {RawNews.model_validate_json(r.value).title for r in records}


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b'{"title": ', 400, "invalid JSON: Expecting value"),
        (b"[]", 400, "non-empty array"),
        (b"42", 400, "JSON object"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (json.dumps([ITEM] * 1_001).encode(), 413, "1001 items exceed the limit of 1000"),
    ],
)
def test_unreadable_bodies_are_4xx(live_app: LiveApp, payload: bytes, status: int, fragment: str) -> None:
    with live_app.client() as client:
        response = client.post("/v1/news", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_wrong_content_type_is_415(live_app: LiveApp) -> None:
    with live_app.client() as client:
        response = client.post("/v1/news", content=json.dumps(ITEM), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_huge_declared_body_is_413_before_it_is_read(live_app: LiveApp) -> None:
    token = live_app.tokens["ingester"]
    reply = raw_request(
        live_app,
        b"POST /v1/news HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n".encode(),
    )
    assert reply.startswith(b"HTTP/1.1 413") and b"exceeds the limit of 2097152" in reply


def test_a_sender_of_a_body_over_the_limit_gets_the_413(live_app: LiveApp) -> None:
    """The client is still sending when the server answers: it must read the 413, not a reset."""
    body = json.dumps([{**ITEM, "body": "x" * 900_000}] * 8).encode()  # ~7 MB
    with live_app.client() as client:
        for _ in range(3):
            response = client.post("/v1/news", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 413 and "exceeds the limit" in response.json()["error"]
        assert client.get("/healthz").status_code == 200  # the same connection is still usable


def test_missing_content_length_is_411(live_app: LiveApp) -> None:
    reply = raw_request(
        live_app,
        b"POST /v1/news HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 411") and b"Content-Length required" in reply


def test_unknown_path_and_method(live_app: LiveApp) -> None:
    with live_app.client() as client:
        assert client.get("/nope").status_code == 404
        assert client.get("/v1/news").status_code == 405


def test_slow_clients_are_cut_off_and_others_are_served(make_live_app: Callable[..., LiveApp]) -> None:
    app = make_live_app(http_read_timeout_s=1.5)
    port = int(app.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as silent, socket.create_connection(
        ("127.0.0.1", port), timeout=WAIT_S
    ) as slow_body:
        silent.sendall(b"POST /v1/news HTTP/1.1\r\nHost: localhost\r\n")  # headers never finished
        slow_body.sendall(
            b"POST /v1/news HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {app.tokens['ingester']}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"title": '
        )
        with app.client() as client:  # the server still answers everyone else meanwhile
            assert client.get("/healthz").status_code == 200
        started = time.monotonic()
        replies = [_read_until_closed(silent), _read_until_closed(slow_body)]
        elapsed = time.monotonic() - started
    assert replies[0].startswith(b"HTTP/1.1 408") and b"headers not received" in replies[0]
    assert replies[1].startswith(b"HTTP/1.1 408") and b"body not received within 1.5s" in replies[1]
    assert elapsed < WAIT_S


def _read_until_closed(sock: socket.socket) -> bytes:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply


def test_unacknowledged_send_is_503_and_the_retry_is_accepted(
    live_app: LiveApp, kafka_bootstrap: str, kafka_topics: KafkaTopics, pg_engine: Engine
) -> None:
    """A record the real producer refuses (over its request size) fails the request with nothing
    recorded; once the producer can send again, the sender's retry is accepted, not a duplicate."""
    healthy = live_app.publisher.producer
    item = {**ITEM, "body": "x" * 5_000}
    refusing = make_producer(kafka_bootstrap, max_request_size=2_000)
    live_app.publisher.producer = refusing
    try:
        with live_app.client() as client:
            failed = client.post("/v1/news", json=item)
            assert failed.status_code == 503 and failed.headers["Retry-After"]
            assert "nothing was recorded" in failed.json()["error"]
            with pg_engine.connect() as conn:
                assert conn.scalar(select(func.count()).select_from(IngestSeen)) == 0
            assert client.get("/healthz").status_code == 503  # the broker check says so
            live_app.publisher.producer = healthy
            retried = client.post("/v1/news", json=item)
    finally:
        live_app.publisher.producer = healthy
        refusing.close(timeout=5)
    assert retried.status_code == 202 and retried.json()["items"][0]["status"] == "accepted"
    assert len(read_topic(kafka_bootstrap, kafka_topics.raw, 1)) == 1


def test_healthz_and_metrics(live_app: LiveApp) -> None:
    with live_app.client() as client:
        client.post("/v1/news", json=ITEM)
        client.post("/v1/news", json=ITEM)
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True
        assert health.json()["ingest"] == {
            "ingested": 2,
            "produced": 1,
            "deduplicated": 1,
            "dlq": 0,
            "rejected": 0,
        }
        text = client.get("/metrics").text
    assert 'finsent_ingest_seen_total{source="http-push"} 2.0' in text
    assert 'finsent_ingest_produced_total{source="http-push"} 1.0' in text
    assert 'finsent_ingest_deduplicated_total{kind="duplicate_id"} 1.0' in text
    assert 'finsent_http_requests_total{code="202",method="POST",route="/v1/news"} 2.0' in text


def test_openapi_document_and_docs(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.url, timeout=WAIT_S) as anonymous:
        spec = anonymous.get("/openapi.json").json()
        docs = anonymous.get("/docs")
    push = spec["paths"]["/v1/news"]["post"]
    assert push["security"] == [{"bearer": []}]
    assert {"202", "401", "403", "413", "503"} <= set(push["responses"])
    assert "requestBody" in push and spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "/openapi.json" in docs.text
