"""The read API over a seeded history, on SQLite and Postgres: figures against an oracle computed
from the generated articles, auth (401/403), keyset pages that stay whole while rows arrive,
evidence that late articles do not change, and 422 with a clear message for bad parameters."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from pipeline.db import store_batch
from schemas import EnrichedNews
from tests.fixtures.alerts_data import MODEL_VERSION, item
from tests.fixtures.analyst_app import AnalystApp
from tests.fixtures.analyst_data import END, START, XSS_TITLE, history

pytestmark = pytest.mark.integration

READS = [
    "/v1/topics",
    "/v1/topics/Earnings/timeline",
    "/v1/articles",
    "/v1/articles/unknown",
    "/v1/entities/top",
    "/v1/alerts",
    "/v1/alerts/unknown",
    "/v1/rules",
    "/v1/deliveries",
    "/v1/silences",
]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _enriched(topic: str | None = None) -> list[EnrichedNews]:
    return [e for e in history()[1] if topic is None or e.topic == topic]


def _figures(topic: str, start: datetime, end: datetime) -> tuple[int, int]:
    chosen = [e for e in _enriched(topic) if start <= e.published_at < end]
    return len(chosen), sum(e.sentiment == "negative" for e in chosen)


def _clock() -> datetime:
    newest = max(e.published_at for e in _enriched())
    return newest.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _pages(client: Any, params: dict[str, Any], between: Any = None) -> list[str]:
    ids, cursor = [], None
    while True:
        response = client.get("/v1/articles", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [a["news_id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
        if between is not None:
            between(len(ids))


def test_reads_need_a_token_with_the_read_scope(analyst_app: AnalystApp) -> None:
    with (
        analyst_app.client(None) as anonymous,
        analyst_app.client("ingester") as ingester,
        analyst_app.client("admin") as admin_only,
        analyst_app.client("reader") as reader,
    ):
        for path in READS:
            missing = anonymous.get(path)
            assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer"), path
            for other in (ingester, admin_only):
                refused = other.get(path)
                assert refused.status_code == 403, path
                assert "lacks the 'read' scope" in refused.json()["error"]
            assert reader.get(path).status_code in (200, 404), path
        assert anonymous.get("/v1/topics", headers={"Authorization": "Bearer fst_forged"}).status_code == 401


def test_topics_now_against_their_baseline(analyst_app: AnalystApp) -> None:
    with analyst_app.client() as client:
        body = client.get("/v1/topics", params={"window": "1h", "baseline": "24h"}).json()
    as_of = _clock()
    assert body["as_of"] == _iso(as_of) and body["model_version"] == MODEL_VERSION
    assert body["version_source"] == "activated"
    topics = {t["topic"]: t for t in body["topics"]}
    assert set(topics) == {"Earnings", "Energy | Oil", "Macro", "Markets"}
    energy = topics["Energy | Oil"]
    assert (energy["window"]["count"], energy["window"]["negative"]) == _figures("Energy | Oil", as_of - timedelta(hours=1), as_of)
    base = _figures("Energy | Oil", as_of - timedelta(hours=25), as_of - timedelta(hours=1))
    assert (energy["baseline"]["count"], energy["baseline"]["negative"]) == base
    assert energy["alerts"] == [] and len(energy["sparkline"]) == 24
    assert sum(p["count"] for p in energy["sparkline"]) == _figures("Energy | Oil", as_of - timedelta(hours=24), as_of)[0]
    earnings = topics["Earnings"]
    assert [a["status"] for a in earnings["alerts"]] == ["firing"]
    assert earnings["alerts"][0]["fingerprint"] == analyst_app.seeded.fingerprint
    assert earnings["window"]["negative_share"] > 0.6 > energy["window"]["negative_share"]


def test_timeline_counts_every_article_once_with_the_alert_events(analyst_app: AnalystApp) -> None:
    with analyst_app.client() as client:
        hourly = client.get(
            "/v1/topics/Energy | Oil/timeline", params={"bucket": "1h", "from": _iso(START), "to": _iso(END)}
        ).json()
        earnings = client.get("/v1/topics/Earnings/timeline", params={"bucket": "5m"}).json()
        unknown = client.get("/v1/topics/No such topic/timeline")
    assert len(hourly["buckets"]) == (END - START) // timedelta(hours=1)
    assert sum(b["count"] for b in hourly["buckets"]) == _figures("Energy | Oil", START, END)[0]
    assert sum(b["negative"] + b["neutral"] + b["positive"] for b in hourly["buckets"]) == _figures("Energy | Oil", START, END)[0]
    assert all(b["start"].endswith(":00:00Z") for b in hourly["buckets"])
    assert [e["status"] for e in earnings["alerts"]] == ["firing"]
    assert earnings["alerts"][0]["event_id"] == analyst_app.seeded.firing_event_id
    assert len(earnings["buckets"]) == 12 * 12 + 1  # 12 h of 5-minute buckets, widened to whole ones
    assert unknown.status_code == 404 and "No such topic" in unknown.json()["error"]


def test_article_filters_and_search(analyst_app: AnalystApp) -> None:
    expected = {e.news_id for e in _enriched("Earnings") if e.sentiment == "negative" and e.entities}
    with analyst_app.client() as client:
        found = _pages(client, {"topic": "Earnings", "sentiment": "negative", "ticker": "acme", "limit": 50})
        searched = client.get("/v1/articles", params={"q": "plunges"}).json()["items"]
        detail = client.get(f"/v1/articles/{searched[0]['news_id']}").json()
    assert len(found) == len(set(found)) and set(found) == expected
    assert [a["title"] for a in searched] == [XSS_TITLE]
    assert detail["title"] == XSS_TITLE and [e["model_version"] for e in detail["enrichments"]] == [MODEL_VERSION]
    assert detail["enrichments"][0]["entities"][0]["ticker"] == "ACME"


def test_pages_stay_whole_while_new_rows_arrive(analyst_app: AnalystApp) -> None:
    """Keyset pages: every row that existed at the first page is listed exactly once, whatever is
    inserted between pages (newer rows, and late rows in the middle of the range)."""
    since = END - timedelta(hours=6)
    original = {e.news_id for e in _enriched("Markets") if e.published_at >= since}
    inserted: list[str] = []

    def insert(seen: int) -> None:
        newer = item("Markets", END + timedelta(minutes=seen), "negative", 50_000 + seen)
        late = item("Markets", END - timedelta(hours=3, seconds=seen), "positive", 60_000 + seen)
        store_batch(analyst_app.engine, [newer[0], late[0]], [newer[1], late[1]])
        inserted.extend([newer[0].id, late[0].id])

    with analyst_app.client() as client:
        ids = _pages(client, {"topic": "Markets", "from": _iso(since), "limit": 7}, between=insert)
    assert len(inserted) >= 2 * 9
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicates == []
    assert original <= set(ids), f"missing {len(original - set(ids))} rows"
    assert set(ids) <= original | set(inserted)


@pytest.mark.parametrize(
    ("path", "params", "field", "message"),
    [
        ("/v1/articles", {"limit": "0"}, "limit", "greater than or equal to 1"),
        ("/v1/articles", {"limit": "abc"}, "limit", "valid integer"),
        ("/v1/articles", {"limit": "100000"}, "limit", "less than or equal to 200"),
        ("/v1/articles", {"sentiment": "gloomy"}, "sentiment", "'negative', 'neutral' or 'positive'"),
        ("/v1/articles", {"from": "yesterday"}, "from", "not an ISO 8601 instant"),
        ("/v1/articles", {"from": ""}, "from", "not an ISO 8601 instant"),
        ("/v1/articles", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor", "should match pattern"),
        ("/v1/articles", {"q": "x" * 201}, "q", "at most 200 characters"),
        ("/v1/articles", {"q": "   "}, "q", "should match pattern"),
        ("/v1/articles", {"at": "99999-01-01"}, "at", "not an ISO 8601 instant"),
        ("/v1/topics", {"window": "soon"}, "window", "not a duration"),
        ("/v1/topics", {"window": "0m"}, "window", "between 1 min and 30 d"),
        ("/v1/topics/Earnings/timeline", {"bucket": "2h"}, "bucket", "'5m', '1h' or '1d'"),
        ("/v1/entities/top", {"by": "mood"}, "by", "'negative' or 'volume'"),
        ("/v1/alerts", {"state": "burning"}, "state", "'firing' or 'resolved'"),
        ("/v1/deliveries", {"status": "lost"}, "status", "'pending', 'delivered' or 'failed'"),
    ],
)
def test_bad_parameters_are_422_with_a_clear_message(
    analyst_app: AnalystApp, path: str, params: dict[str, str], field: str, message: str
) -> None:
    with analyst_app.client() as client:
        response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid request"
    assert any(e["loc"][-1] == field and message in e["msg"] for e in body["errors"]), body


def test_a_cursor_is_a_position_that_other_filters_read_on_from(analyst_app: AnalystApp) -> None:
    with analyst_app.client() as client:
        first = client.get("/v1/articles", params={"limit": 3}).json()
        last = first["items"][-1]["published_at"]
        after = client.get("/v1/articles", params={"topic": "Markets", "limit": 200, "cursor": first["next_cursor"]})
        older = client.get("/v1/articles", params={"topic": "Markets", "limit": 200, "to": last}).json()["items"]
    assert after.status_code == 200
    items = after.json()["items"]
    assert all(a["topic"] == "Markets" and a["published_at"] <= last for a in items)
    assert [a["news_id"] for a in items if a["published_at"] < last] == [a["news_id"] for a in older]


def test_ranges_out_of_bounds_or_empty_are_answered_not_refused(analyst_app: AnalystApp) -> None:
    with analyst_app.client() as client:
        everything = client.get("/v1/articles", params={"limit": 200}).json()["items"]
        clamped = client.get("/v1/articles", params={"limit": 200, "from": "1066-10-14T00:00:00Z"}).json()["items"]
        empty = client.get("/v1/articles", params={"from": "2026-11-27T00:00:00Z", "to": "2026-11-26T00:00:00Z"})
        long = client.get("/v1/topics/Earnings/timeline", params={"bucket": "5m", "from": "2020-01-01T00:00:00Z"})
    assert clamped == everything
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert long.status_code == 200, long.text
    assert len(long.json()["buckets"]) <= 2000  # the latest MAX_BUCKETS buckets; `start` says where they begin
    assert long.json()["start"] == long.json()["buckets"][0]["start"]


def test_alert_evidence_is_what_fired_and_late_articles_do_not_change_it(analyst_app: AnalystApp) -> None:
    seeded = analyst_app.seeded
    with analyst_app.client() as client:
        by_fingerprint = client.get(f"/v1/alerts/{seeded.fingerprint}").json()
        by_event = client.get(f"/v1/alerts/{seeded.firing_event_id}").json()
        event = by_event["event"]
        start, end = (datetime.fromisoformat(event[k]) for k in ("window_start", "window_end"))
        in_window = {e.news_id for e in _enriched("Earnings") if start <= e.published_at < end}
        assert by_fingerprint["event"]["event_id"] == seeded.firing_event_id
        assert by_event["evidence_event_id"] == seeded.firing_event_id
        assert by_event["evidence_count"] == len(in_window) == event["figures"]["count"]
        assert {a["news_id"] for a in by_event["evidence"]} == in_window
        assert XSS_TITLE in {a["title"] for a in by_event["evidence"]}
        assert "negative" in by_event["explanation"] and "earnings-desk" in by_event["explanation"]
        assert by_event["rule"]["name"] == "earnings-desk"
        assert [d["status"] for d in by_event["deliveries"]] == ["pending"]
        assert by_event["deliveries"][0]["host"] == "127.0.0.1" and "url" not in by_event["deliveries"][0]

        late = item("Earnings", start + timedelta(minutes=1), "negative", 70_000, ticker="ACME")
        store_batch(analyst_app.engine, [late[0]], [late[1]])
        after = client.get(f"/v1/alerts/{seeded.firing_event_id}").json()
        window_now = client.get(
            "/v1/articles", params={"topic": "Earnings", "from": event["window_start"], "to": event["window_end"], "limit": 200}
        ).json()["items"]
    assert late[0].id in {a["news_id"] for a in window_now}  # the window itself did change...
    assert {a["news_id"] for a in after["evidence"]} == in_window  # ...the evidence did not
    assert after["evidence_count"] == len(in_window)


def test_alerts_rules_and_deliveries_listings(analyst_app: AnalystApp) -> None:
    with analyst_app.client() as client:
        firing_now = client.get("/v1/alerts", params={"firing_now": "true"}).json()["items"]
        resolved = client.get("/v1/alerts", params={"state": "resolved"}).json()["items"]
        rules = client.get("/v1/rules").json()
        pending = client.get("/v1/deliveries", params={"status": "pending"}).json()["items"]
    assert [(e["topic"], e["status"], e["alert_status"]) for e in firing_now] == [("Earnings", "firing", "firing")]
    assert resolved == []
    assert [r["name"] for r in rules["rules"]] == ["earnings-desk"]
    assert [d["event_id"] for d in pending] == [analyst_app.seeded.firing_event_id]


def test_silences_need_the_admin_scope_and_expire(analyst_app: AnalystApp) -> None:
    silence = {"matchers": {"topic": "Earnings", "rule": "earnings-desk"}, "duration": "2h", "comment": "earnings day"}
    with analyst_app.client("reader") as reader, analyst_app.client("desk") as desk:
        assert reader.post("/v1/silences", json=silence).status_code == 403
        created = desk.post("/v1/silences", json=silence)
        assert created.status_code == 201, created.text
        made = created.json()
        assert made["created_by"] == "desk" and made["active"] and made["matchers"] == silence["matchers"]
        listed = reader.get("/v1/silences").json()["items"]
        assert [s["id"] for s in listed] == [made["id"]]
        detail = reader.get(f"/v1/alerts/{analyst_app.seeded.fingerprint}").json()
        assert [s["id"] for s in detail["silences"]] == [made["id"]]
        assert reader.delete(f"/v1/silences/{made['id']}").status_code == 403
        assert desk.delete(f"/v1/silences/{made['id']}").status_code == 204
        assert desk.delete(f"/v1/silences/{made['id']}").status_code == 404
        assert reader.get("/v1/silences").json()["items"] == []
        assert [s["id"] for s in reader.get("/v1/silences", params={"expired": "true"}).json()["items"]] == [made["id"]]
        bad = desk.post("/v1/silences", json={**silence, "duration": "forever"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "duration"
        no_matchers = desk.post("/v1/silences", json={**silence, "matchers": {}})
        assert no_matchers.status_code == 422
        form = desk.post("/v1/silences", content=b"matchers=x", headers={"Content-Type": "text/plain"})
        assert form.status_code in (415, 422)
