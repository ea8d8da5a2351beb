"""The dashboard in headless Chromium: on `finsent demo --serve` (the real demo: its topics, its
alert with the articles recorded when it fired; screenshots) and on a seeded history with an alert
still firing (click-through, a `<script>` headline shown as text, a silence made in the page that
the API lists, and a page that updates itself)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures import sample_counts as sample
from tests.fixtures.analyst_app import AnalystApp, serve_analyst_app
from tests.fixtures.analyst_data import XSS_TITLE
from tests.fixtures.browser import VIEWPORT, screenshot_dir
from tests.fixtures.waiting import WAIT_S, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = WAIT_S * 1000
REFRESH_S = 1.0
"""FINSENT_DASHBOARD_REFRESH_S of the seeded app: a page that updates itself does so within a second."""


def _summary_line(process: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    """The demo's JSON summary line (its first stdout line), within `timeout_s`."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if selector.select(timeout=1.0):
            line = process.stdout.readline()
            if line.startswith("{"):
                return dict(json.loads(line))
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"no summary line from finsent demo --serve within {timeout_s:.0f}s (exit {process.poll()})")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`finsent demo --serve` on a free port; stopped with SIGINT (Ctrl-C), which must exit 0."""
    data = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env["FINSENT_DATA_DIR"] = str(data)
    with (data / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "demo", "--serve", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            summary = _summary_line(process, timeout_s=600)
            yield summary
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    assert code == 0, (data / "stderr.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystApp]:
    from pipeline.db import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'finsent.db'}"
    migrate.upgrade(url)
    server, app = serve_analyst_app(url, tmp_path_factory.mktemp("rules") / "rules.yaml", dashboard_refresh_s=REFRESH_S)
    try:
        yield app
    finally:
        server.stop()
        app.engine.dispose()


def _page(browser: Any, login_url: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(login_url)
    return page


def _api(base: str, token: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT_S)
    assert response.status_code == 200, response.text
    return response.json()


def test_demo_summary_has_a_login_link_and_a_read_token(demo: dict[str, Any]) -> None:
    base = demo["dashboard_url"].split("/login?token=")[0]
    assert demo["dashboard_url"].startswith("http://127.0.0.1:") and "/login?token=fst_" in demo["dashboard_url"]
    assert demo["ingested"] == sample.INGESTED and demo["alerts_fired"] >= 1
    assert _api(base, demo["api_token"], "/v1/topics")["topics"]
    refused = httpx.post(
        f"{base}/v1/silences", json={"matchers": {"topic": "Macro"}}, headers={"Authorization": f"Bearer {demo['api_token']}"}
    )
    assert refused.status_code == 403  # the printed API token reads; it cannot write


def test_overview_renders_the_demo_topics(browser: Any, demo: dict[str, Any], tmp_path: Path) -> None:
    base = demo["dashboard_url"].split("/login?token=")[0]
    topics = {t["topic"] for t in _api(base, demo["api_token"], "/v1/topics")["topics"]}
    page = _page(browser, demo["dashboard_url"])
    assert page.url == f"{base}/"
    wait_until(lambda: page.locator("#topics tbody tr[data-topic]").count() == len(topics), "every topic's row")
    rows = page.locator("#topics tbody tr[data-topic]")
    assert {rows.nth(i).get_attribute("data-topic") for i in range(rows.count())} == topics
    page.locator(".spark canvas").first.wait_for()
    page.locator("#recent li[data-event-id]").first.wait_for()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "overview.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_demo_alert_opens_with_the_articles_recorded_when_it_fired(
    browser: Any, demo: dict[str, Any], tmp_path: Path
) -> None:
    base = demo["dashboard_url"].split("/login?token=")[0]
    page = _page(browser, demo["dashboard_url"])
    firing = page.locator("#recent li[data-event-id]", has=page.locator(".badge.firing")).first
    firing.locator("a").click()
    page.wait_for_url(f"{base}/alerts/*")
    fingerprint = page.url.rsplit("/", 1)[1]
    detail = _api(base, demo["api_token"], f"/v1/alerts/{fingerprint}")
    assert detail["evidence_count"] >= 3
    wait_until(
        lambda: page.locator("#evidence li[data-news-id]").count() == len(detail["evidence"]), "the recorded articles"
    )
    shown = page.locator("#evidence li[data-news-id] .headline").all_inner_texts()
    assert shown == [a["title"] for a in detail["evidence"]]
    assert "were negative" in page.locator("#explanation").inner_text()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "alert.png"), full_page=True)

    page.locator("#alert-title a").click()
    page.wait_for_url(f"{base}/topics/*")
    page.select_option("#range", "5m|6h")
    page.locator("#chart canvas").first.wait_for()
    page.locator("#articles li[data-news-id]").first.wait_for()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "topic.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def _login(app: AnalystApp, role: str = "desk") -> str:
    return f"{app.url}/login?token={app.tokens[role]}"


def test_clicking_a_firing_alert_opens_its_recorded_articles(browser: Any, seeded: AnalystApp) -> None:
    page = _page(browser, _login(seeded))
    card = page.locator(f"#firing a.alert-card[data-fingerprint='{seeded.seeded.fingerprint}']")
    card.click()
    page.wait_for_url(f"{seeded.url}/alerts/{seeded.seeded.fingerprint}")
    detail = _api(seeded.url, seeded.tokens["reader"], f"/v1/alerts/{seeded.seeded.fingerprint}")
    wait_until(lambda: page.locator("#evidence li[data-news-id]").count() == detail["evidence_count"], "evidence")
    shown = set(page.locator("#evidence li[data-news-id]").evaluate_all("els => els.map(e => e.dataset.newsId)"))
    assert shown == {a["news_id"] for a in detail["evidence"]}
    assert page.locator("#alert-badges").inner_text().upper().startswith("EVENT: FIRING")
    page.context.close()


def test_a_script_headline_shows_as_text(browser: Any, seeded: AnalystApp) -> None:
    page = _page(browser, _login(seeded, "reader"))
    page.goto(f"{seeded.url}/alerts/{seeded.seeded.fingerprint}")
    headline = page.locator("#evidence .headline", has_text="plunges on probe")
    headline.wait_for()
    assert headline.inner_text() == XSS_TITLE
    page.goto(f"{seeded.url}/topics/Earnings")
    page.fill("#filters input[name=q]", "plunges")
    page.click("#filters button[type=submit]")
    wait_until(lambda: page.locator("#articles li[data-news-id]").count() == 1, "the search result")
    assert page.locator("#articles .headline").inner_text() == XSS_TITLE
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.scripts.length") == 2  # uPlot and app.js, nothing from the data
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_silence_made_in_the_page_is_in_the_api_and_the_page_follows_the_api(
    browser: Any, seeded: AnalystApp
) -> None:
    page = _page(browser, _login(seeded, "desk"))
    page.goto(f"{seeded.url}/alerts/{seeded.seeded.fingerprint}")
    page.locator("#evidence li[data-news-id]").first.wait_for()
    page.select_option("#silence-form select[name=duration]", "1h")
    page.fill("#silence-form input[name=comment]", "earnings call <b>today</b>")
    page.click("#silence-button")
    page.locator("#silences .silence").wait_for()
    silences = _api(seeded.url, seeded.tokens["reader"], "/v1/silences")["items"]
    assert [(s["matchers"], s["created_by"], s["comment"]) for s in silences] == [
        ({"rule": "earnings-desk", "topic": "Earnings"}, "desk", "earnings call <b>today</b>")
    ]
    assert "earnings call <b>today</b>" in page.locator("#silences .silence").inner_text()

    # expired elsewhere (by a script): the open page drops it on its next refresh, no reload
    assert page.locator("body").get_attribute("data-refresh") == f"{REFRESH_S:g}"
    expired = httpx.delete(
        f"{seeded.url}/v1/silences/{silences[0]['id']}", headers={"Authorization": f"Bearer {seeded.tokens['desk']}"}
    )
    assert expired.status_code == 204
    wait_until(lambda: page.locator("#silences .silence").count() == 0, "the page to refresh itself")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
