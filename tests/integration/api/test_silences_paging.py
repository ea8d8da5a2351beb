"""`GET /v1/silences` pages like the other listings (limit + cursor, newest first), on SQLite and
Postgres: walking the pages yields every silence exactly once, expired ones only when asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerts.silences import add_silence
from schemas import utc_now
from tests.fixtures.analyst_app import AnalystApp

pytestmark = pytest.mark.integration


def _walk(app: AnalystApp, limit: int, **query: Any) -> tuple[list[int], list[int]]:
    """The ids of every page in turn, and each page's size."""
    ids, sizes, cursor = [], [], None
    with app.client() as client:
        while True:
            response = client.get(
                "/v1/silences", params={**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            ids += [s["id"] for s in body["items"]]
            sizes.append(len(body["items"]))
            cursor = body["next_cursor"]
            if cursor is None:
                return ids, sizes


def test_silences_page_newest_first_with_a_cursor(analyst_app: AnalystApp) -> None:
    before_active, _ = _walk(analyst_app, 200)
    before_all, _ = _walk(analyst_app, 200, expired="true")
    now = utc_now()
    made_at = [now - timedelta(minutes=30), *[now - timedelta(minutes=20)] * 3, now - timedelta(minutes=10)]
    active = [
        add_silence(analyst_app.engine, {"topic": f"T{n}"}, now=at, duration=timedelta(days=1)).id
        for n, at in enumerate(made_at)
    ]
    expired = [
        add_silence(
            analyst_app.engine, {"topic": "Old"}, now=now - timedelta(days=3), duration=timedelta(hours=1)
        ).id
        for _ in range(3)
    ]
    newest_first = [active[4], active[3], active[2], active[1], active[0]]  # equal instants: higher id first

    ids, sizes = _walk(analyst_app, 2)
    assert ids == newest_first + before_active and set(sizes[:-1]) == {2} and 1 <= sizes[-1] <= 2
    ids, _ = _walk(analyst_app, 3, expired="true")
    assert ids == newest_first + sorted(expired, reverse=True) + before_all


def test_silence_paging_refuses_a_bad_cursor_and_a_limit_out_of_range(analyst_app: AnalystApp) -> None:
    for n in range(3):
        add_silence(analyst_app.engine, {"topic": f"C{n}"}, now=utc_now(), duration=timedelta(hours=1))
    with analyst_app.client() as client:
        cursor = client.get("/v1/silences", params={"limit": 1}).json()["next_cursor"]
        assert cursor is not None
        bad = client.get("/v1/silences", params={"limit": 1, "cursor": "not-a-cursor"})
        too_many = client.get("/v1/silences", params={"limit": 201})
        default = client.get("/v1/silences").json()
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "cursor"]
    assert too_many.status_code == 422
    assert len(default["items"]) <= 50
