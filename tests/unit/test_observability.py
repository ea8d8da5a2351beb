"""The workers' ops server: loopback unless FINSENT_METRICS_HOST says otherwise; /healthz, /metrics."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from pipeline import observability
from pipeline.config import Settings
from pipeline.observability import start_ops_server


def test_no_port_no_server() -> None:
    assert start_ops_server(Settings(metrics_port=None), CollectorRegistry(), lambda: {"ok": True}) is None


def test_binds_loopback_by_default_and_serves_health_and_metrics() -> None:
    registry = CollectorRegistry()
    Counter("finsent_test_things", "things", registry=registry).inc(3)
    ops = start_ops_server(Settings(metrics_port=0), registry, lambda: {"ok": False, "why": "testing"})
    assert ops is not None
    try:
        assert ops._server.server_address[0] == "127.0.0.1"
        with httpx.Client(base_url=f"http://127.0.0.1:{ops.port}", timeout=10) as client:
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json() == {"ok": False, "why": "testing"}
            assert "finsent_test_things_total 3.0" in client.get("/metrics").text
    finally:
        ops.stop()


def test_metrics_host_setting_is_honoured() -> None:
    ops = start_ops_server(Settings(metrics_port=0, metrics_host="0.0.0.0"), CollectorRegistry(), lambda: {"ok": True})
    assert ops is not None
    try:
        assert ops._server.server_address[0] == "0.0.0.0"
    finally:
        ops.stop()


def test_an_idle_connection_does_not_block_healthz() -> None:
    """A client that connects and sends nothing (a stuck probe, a port scan) holds one thread for at
    most the connection timeout; /healthz on another connection still answers at once."""
    ops = start_ops_server(Settings(metrics_port=0), CollectorRegistry(), lambda: {"ok": True})
    assert ops is not None
    try:
        with socket.create_connection(("127.0.0.1", ops.port)) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\n")  # half a request, then silence
            started = time.monotonic()
            health = httpx.get(f"http://127.0.0.1:{ops.port}/healthz", timeout=1.0)
            assert health.status_code == 200 and time.monotonic() - started < 1.0
    finally:
        ops.stop()


def test_a_silent_connection_is_closed_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability._QuietHandler, "timeout", 0.2)
    ops = start_ops_server(Settings(metrics_port=0), CollectorRegistry(), lambda: {"ok": True})
    assert ops is not None
    try:
        with socket.create_connection(("127.0.0.1", ops.port), timeout=5.0) as idle:
            assert idle.recv(1024) == b""  # the server hung up on us, well before our 5 s
    finally:
        ops.stop()
