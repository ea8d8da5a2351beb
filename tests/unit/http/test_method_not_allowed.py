"""405 answers name every method the path has in `Allow`, however many routes serve the path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pipeline.api_tokens import TokenRegistry
from pipeline.config import Settings
from workers.http import AppContext
from workers.http.analyst import create_analyst_app


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_analyst_app(AppContext(settings=Settings(), tokens=TokenRegistry([])))
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/silences", "GET, POST"),  # two routes at one path: Starlette listed the first's only
        ("PUT", "/v1/silences", "GET, POST"),
        ("OPTIONS", "/v1/watchlists", "GET, POST"),
        ("PATCH", "/v1/watchlists/7", "DELETE"),
        ("GET", "/v1/silences/7", "DELETE"),
        ("HEAD", "/v1/articles", "GET"),
        ("DELETE", "/login", "GET, POST"),
        ("POST", "/openapi.json", "GET, HEAD"),
    ],
)
def test_a_405_lists_every_method_of_the_path(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    if method != "HEAD":
        assert response.json() == {"error": "Method Not Allowed"}
