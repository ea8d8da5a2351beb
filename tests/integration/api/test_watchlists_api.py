"""`/v1/watchlists`: `read` lists, `admin` creates and removes; invalid bodies get 422, a taken
name 409, a removed or unknown id 404; notices per watchlist (SQLite and Postgres)."""

from __future__ import annotations

import pytest

from alerts.watchlists.processor import WatchlistProcessor
from tests.fixtures.analyst_app import AnalystApp
from tests.fixtures.stream import store_articles
from tests.fixtures.watchlists import enriched, mention

pytestmark = pytest.mark.integration

BODY = {
    "name": "AAPL desk",
    "tickers": ["$aapl"],
    "entities": ["Apple"],
    "condition": {"labels": ["negative"], "max_score": -0.5},
    "min_relevance": "title",
    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/London"},
    "rate_limit": {"max_notices": 10, "per": "1h"},
}


def test_watchlists_read_and_admin_scopes(analyst_app: AnalystApp) -> None:
    with analyst_app.client("reader") as reader, analyst_app.client("desk") as desk:
        assert reader.post("/v1/watchlists", json=BODY).status_code == 403
        created = desk.post("/v1/watchlists", json=BODY)
        assert created.status_code == 201, created.text
        made = created.json()
        assert made["owner"] == "desk" and made["tickers"] == ["AAPL"] and made["rate_limit"]["per"] == "1h"
        assert desk.post("/v1/watchlists", json=BODY).status_code == 409
        listed = reader.get("/v1/watchlists").json()["items"]
        assert [w["id"] for w in listed] == [made["id"]]
        assert reader.get("/v1/watchlists", params={"owner": "someone"}).json()["items"] == []
        assert reader.get(f"/v1/watchlists/{made['id']}/notices").json()["items"] == []

        for bad in ({**BODY, "tickers": [], "entities": []}, {**BODY, "rate_limit": {"max_notices": 0, "per": "1h"}},
                    {**BODY, "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Nowhere/City"}},
                    {**BODY, "extra": 1}):
            assert desk.post("/v1/watchlists", json={**bad, "name": "other"}).status_code == 422, bad
        form = desk.post("/v1/watchlists", content=b"name=x", headers={"Content-Type": "text/plain"})
        assert form.status_code in (415, 422)

        assert reader.delete(f"/v1/watchlists/{made['id']}").status_code == 403
        assert desk.delete(f"/v1/watchlists/{made['id']}").status_code == 204
        assert desk.delete(f"/v1/watchlists/{made['id']}").status_code == 404
        assert reader.get(f"/v1/watchlists/{made['id']}/notices").status_code == 404
        assert reader.get("/v1/watchlists").json()["items"] == []


def test_notices_of_a_watchlist(analyst_app: AnalystApp) -> None:
    with analyst_app.client("desk") as desk:
        made = desk.post("/v1/watchlists", json={"name": "msft", "tickers": ["MSFT"]}).json()
        item = enriched("api-watch-000001", entities=(mention("Microsoft", 0, ticker="MSFT"),))
        store_articles(analyst_app.engine, [(item, "Microsoft cuts jobs", "")])
        assert len(WatchlistProcessor(analyst_app.engine, {}, model_version="v-test").on_enriched(item).suppressed) == 1  # no receiver
        notices = desk.get(f"/v1/watchlists/{made['id']}/notices").json()["items"]
        assert [(n["news_id"], n["status"], n["reason"]) for n in notices] == [
            ("api-watch-000001", "suppressed", "no_receiver")
        ]
        assert desk.delete(f"/v1/watchlists/{made['id']}").status_code == 204
