"""`POST /v1/news`, `/healthz` and `/metrics` on a real server (port 0) with an httpx client."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from pipeline.ingest.sources.http_push import IngestHTTPServer
from prometheus_client import CollectorRegistry

from pipeline.ingest.dedup import Deduplicator
from pipeline.ingest.publisher import IngestMetrics, IngestPublisher


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        return


@pytest.fixture
def producer() -> Producer:
    return Producer()


@pytest.fixture
def server(producer: Producer) -> Iterator[IngestHTTPServer]:
    registry = CollectorRegistry()
    publisher = IngestPublisher(
        producer, Deduplicator(), topic_raw="raw", topic_dlq="dlq", metrics=IngestMetrics(registry)
    )
    with IngestHTTPServer(publisher, registry, port=0, max_body_bytes=10_000) as srv:
        yield srv


@pytest.fixture
def client(server: IngestHTTPServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5.0) as c:
        yield c


ITEM = {
    "title": "Acme beats estimates",
    "url": "https://example.com/acme",
    "published_at": "2026-11-27T14:00:00Z",
}


def test_accepts_an_object_and_reports_dedup(client: httpx.Client, producer: Producer) -> None:
    first = client.post("/v1/news", json=ITEM)
    assert first.status_code == 202
    body = first.json()
    assert body["accepted"] == 1 and body["items"][0]["verdict"] == "unique"
    again = client.post("/v1/news", json=[ITEM, {**ITEM, "url": "https://example.com/other"}])
    assert again.status_code == 202
    verdicts = [(i["verdict"], i["duplicate_of"]) for i in again.json()["items"]]
    assert verdicts == [("duplicate_id", body["items"][0]["id"]), ("duplicate_title", body["items"][0]["id"])]
    assert [t for t, _, _ in producer.sent] == ["raw"]


def test_invalid_json_is_400_with_parser_error(client: httpx.Client) -> None:
    response = client.post("/v1/news", content=b'{"title": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "invalid JSON: Expecting value" in response.json()["error"]


@pytest.mark.parametrize("payload", [b"[]", b"42", b'"text"'])
def test_wrong_shape_is_400(client: httpx.Client, payload: bytes) -> None:
    response = client.post("/v1/news", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_too_large_is_413(client: httpx.Client, producer: Producer) -> None:
    response = client.post("/v1/news", json={**ITEM, "body": "x" * 20_000})
    assert response.status_code == 413
    assert "limit of 10000" in response.json()["error"]
    assert producer.sent == []


def test_wrong_content_type_is_415(client: httpx.Client) -> None:
    response = client.post("/v1/news", content=json.dumps(ITEM), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


def test_invalid_items_are_422_with_field_errors_and_nothing_produced(
    client: httpx.Client, producer: Producer
) -> None:
    response = client.post(
        "/v1/news", json=[ITEM, {"body": "no title"}, {**ITEM, "published_at": "soon"}, "not an object"]
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "title"), (2, "published_at"), (3, None)]
    assert all(e["reason"] for e in errors)
    assert producer.sent == []


def test_missing_content_length_is_411(server: IngestHTTPServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/news HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 411")
    assert b"Content-Length required" in reply


def test_unknown_path_and_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    response = client.get("/v1/news")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_healthz_and_metrics(client: httpx.Client) -> None:
    client.post("/v1/news", json=ITEM)
    client.post("/v1/news", json=ITEM)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'finsent_ingest_seen_total{source="http-push"} 2.0' in text
    assert 'finsent_ingest_produced_total{source="http-push"} 1.0' in text
    assert 'finsent_ingest_deduplicated_total{kind="duplicate_id"} 1.0' in text
    assert "finsent_ingest_dlq_total" in text
    assert 'finsent_ingest_http_requests_total{code="202"} 2.0' in text


def test_serving_run_until_stopped(producer: Producer) -> None:
    """`run_ingest` with `serve`: serves until the stop event, then flushes and returns the counts."""
    import threading

    from workers.ingest import IngestPlan, ServeSource, run_ingest

    stop = threading.Event()
    ready: list[IngestHTTPServer] = []
    serving = threading.Event()
    result: list[object] = []

    def on_serving(srv: IngestHTTPServer) -> None:
        ready.append(srv)
        serving.set()

    plan = IngestPlan(serve=ServeSource(port=0))
    worker = threading.Thread(
        target=lambda: result.append(run_ingest(plan, producer, stop=stop, on_serving=on_serving))
    )
    worker.start()
    try:
        assert serving.wait(5)
        with httpx.Client(base_url=ready[0].url, timeout=5.0) as c:
            assert c.post("/v1/news", json=ITEM).status_code == 202
            assert c.get("/healthz").json()["counts"]["produced"] == 1
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert result[0].as_dict() == {"ingested": 1, "produced": 1, "deduplicated": 0, "dlq": 0}  # type: ignore[attr-defined]
