"""`/docs` in headless Chromium: Swagger UI renders every operation from this origin alone, under
the pages' Content-Security-Policy (no violation, no request to another host)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.api_tokens import TokenRegistry
from pipeline.config import Settings
from tests.fixtures.browser import VIEWPORT
from tests.fixtures.waiting import WAIT_S
from workers.http import AppContext
from workers.http.analyst import create_analyst_app
from workers.http.server import ServerThread

pytestmark = pytest.mark.integration


def test_swagger_ui_renders_under_the_csp_from_this_origin(browser: Any) -> None:
    context = AppContext(settings=Settings(), tokens=TokenRegistry([]), open_access=True)
    with ServerThread(create_analyst_app(context)) as server:
        base = server.url
        page = browser.new_context(viewport=VIEWPORT).new_page()
        console: list[str] = []
        requested: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{base}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=WAIT_S * 1000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        page.close()
    assert "/v1/topics" in paths and "/healthz" in paths
    assert not [line for line in console if "Content Security Policy" in line or "pageerror" in line], console
    assert requested and all(url.startswith(f"{base}/") for url in requested), requested
