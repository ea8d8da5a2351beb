"""The HTTP surface against a hostile client or web page, on a live server: a duration parameter
of thousands of spaces, made-up methods against `/metrics`, a rebound Host, a TLS proxy in front,
`/docs` from this origin only, and a path that tries to forge a log line."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.api_tokens import TokenRegistry, create_token
from pipeline.config import Settings
from pipeline.logs import KeyValueFormatter
from tests.fixtures.analyst_app import AnalystApp
from tests.fixtures.waiting import WAIT_S, wait_until
from workers.http import AppContext
from workers.http.analyst import create_analyst_app
from workers.http.hosts import HSTS
from workers.http.pages import STATIC
from workers.http.server import ServerThread
from workers.http.sessions import COOKIE

pytestmark = pytest.mark.integration

PUBLIC = "https://finsent.example.com"


@contextmanager
def serving(
    *, public_url: str = "http://localhost:8080", open_access: bool = False, forwarded_allow_ips: str | None = None
) -> Iterator[tuple[httpx.Client, str]]:
    """The analysts' app (no database: none of these requests reads one) on a free loopback port,
    with one `read` token unless `open_access`; a client for it and the token."""
    token, entry = create_token("reader", ["read"])
    settings = Settings(public_url=public_url, forwarded_allow_ips=forwarded_allow_ips)
    context = AppContext(settings=settings, tokens=TokenRegistry([] if open_access else [entry]), open_access=open_access)
    with ServerThread(create_analyst_app(context), forwarded_allow_ips=forwarded_allow_ips) as server:
        with httpx.Client(base_url=server.url, timeout=WAIT_S) as client:
            yield client, token


def _series(client: httpx.Client) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/v1/topics", "window", " " * 10_000),
        ("/v1/topics", "window", " " * 150 + "x"),  # 8 s for the old pattern
        ("/v1/topics", "baseline", "1h" + " " * 10_000 + "x"),
        ("/v1/entities/top", "window", " " * 10_000 + "x"),
        ("/v1/entities/top", "baseline", " " * 10_000 + "x"),
    ],
)
def test_a_huge_duration_parameter_is_refused_at_once(
    sqlite_analyst_app: AnalystApp, path: str, name: str, value: str
) -> None:
    with sqlite_analyst_app.client("reader") as client:
        started = time.perf_counter()
        response = client.get(path, params={name: value})
        elapsed = time.perf_counter() - started
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", name]
    assert elapsed < 0.5, f"{elapsed:.2f}s"


def test_made_up_methods_leave_the_metrics_the_same_size() -> None:
    with serving(open_access=True) as (client, _):
        assert client.request("MADEUP", "/healthz").status_code == 405  # the `other` series exists now
        _series(client)  # and the /metrics GET's own
        before = _series(client)
        statuses = {client.request(f"X{i:04d}", "/healthz").status_code for i in range(1_000)}
        after = _series(client)
    assert statuses == {405}
    assert after == before


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "10.1.2.3", "localhost.evil.example"])
def test_open_access_refuses_a_foreign_host(host: str) -> None:
    """DNS rebinding: a page of evil.example that resolves to 127.0.0.1 sends `Host: evil.example`."""
    with serving(open_access=True) as (client, _):
        refused = client.get("/v1/topics", headers={"Host": host})
        write = client.post(
            "/v1/silences", json={}, headers={"Host": host, "Origin": f"http://{host}"}
        )
        for ok in ("localhost", "127.0.0.1:1234", "[::1]:8080"):
            assert client.get("/healthz", headers={"Host": ok}).status_code == 200, ok
    assert refused.status_code == 400 and "Host" in refused.json()["error"]
    assert write.status_code == 400


def test_with_tokens_the_public_host_and_addresses_are_served() -> None:
    with serving(public_url=PUBLIC) as (client, token):
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/healthz", headers={"Host": "finsent.example.com"}).status_code == 200
        assert client.get("/metrics", headers={"Host": "172.18.0.5:8080"}).status_code == 200  # Prometheus
        assert client.get("/v1/topics", headers={**auth, "Host": "evil.example"}).status_code == 400


def test_behind_a_tls_proxy_the_cookie_is_secure_and_hsts_is_sent() -> None:
    with serving(public_url=PUBLIC) as (client, token):
        login = client.get("/login", params={"token": token}, headers={"Host": "finsent.example.com"})
        health = client.get("/healthz")
        refused = client.get("/healthz", headers={"Host": "evil.example"})
    assert login.status_code == 303
    assert "secure" in [part.strip().lower() for part in login.headers["set-cookie"].split(";")]
    for response in (login, health, refused):
        assert response.headers["strict-transport-security"] == HSTS


def test_over_plain_http_there_is_no_hsts_and_no_secure_cookie() -> None:
    with serving() as (client, token):
        login = client.get("/login", params={"token": token})
    assert login.status_code == 303 and COOKIE in login.headers["set-cookie"]
    assert "secure" not in login.headers["set-cookie"].lower()
    assert "strict-transport-security" not in login.headers


@pytest.mark.parametrize(("trusted", "secure"), [("10.9.9.9", False), ("127.0.0.0/8", True), ("*", True)])
def test_forwarded_proto_is_trusted_from_the_configured_proxies_only(trusted: str, secure: bool) -> None:
    with serving(forwarded_allow_ips=trusted) as (client, token):
        login = client.get("/login", params={"token": token}, headers={"X-Forwarded-Proto": "https"})
    assert login.status_code == 303
    assert ("secure" in login.headers["set-cookie"].lower()) is secure


def test_docs_load_nothing_from_another_origin() -> None:
    with serving(open_access=True) as (client, _):
        page = client.get("/docs")
        references = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        assets = {ref: client.get(ref) for ref in references if ref.startswith("/docs/assets/")}
        assert client.get("/docs/assets/..%2Fapp.js").status_code == 404
        assert client.get("/openapi.json").status_code == 200
    assert page.status_code == 200
    assert references and all(ref.startswith("/") and not ref.startswith("//") or ref == "data:," for ref in references)
    assert len(assets) == 3 and all(r.status_code == 200 for r in assets.values())
    assert "cdn" not in page.text.lower() and "http" not in re.sub(r"<noscript>.*?</noscript>", "", page.text)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text), "an inline script would need a weaker CSP"
    assert " style=" not in page.text and " on" not in re.sub(r"<noscript>.*?</noscript>", "", page.text)
    bundle = assets[next(ref for ref in assets if "swagger-ui-bundle.js" in ref)]
    assert bundle.content == (STATIC / "vendor" / "swagger-ui" / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["content-type"].startswith("text/javascript")


def test_a_path_with_a_newline_makes_one_access_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("finsent.http")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with serving(open_access=True) as (client, _):
            forged = "/x%0A2026-01-01 00:00:00,000 INFO finsent.http: GET /admin 0.001s status=200%0D"
            assert client.get(forged).status_code == 404
            wait_until(lambda: "/x" in stream.getvalue(), "the access log line")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [line for line in stream.getvalue().splitlines() if "/x" in line or "/admin" in line]
    assert len(lines) == 1, lines
    assert "/x\\n2026-01-01" in lines[0] and "status=200\\r" in lines[0]
