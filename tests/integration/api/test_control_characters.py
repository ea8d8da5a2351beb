"""Control characters in what a client sends are refused with 422, as the OpenAPI document says
(patterns), on SQLite and Postgres: Postgres stores no NUL in text or JSON, so each of these was a
500 there (schemathesis found them). Printable text around them is still accepted."""

from __future__ import annotations

import pytest

from tests.fixtures.analyst_app import AnalystApp

pytestmark = pytest.mark.integration

SILENCE_BODIES = [
    {"matchers": {"topic": "Energy\u0000"}},
    {"matchers": {"topic": "Energy\u0007 | Oil"}},
    {"matchers": {"topic": "Energy"}, "comment": "OPEC\u0000"},
    {"matchers": {"topic": "Energy"}, "comment": "line\nbreak"},
    {"matchers": {"topic": "\u0085"}},  # white space only (NEL counts, as in the document's pattern)
]


@pytest.mark.parametrize("body", SILENCE_BODIES)
def test_silences_with_control_characters_are_422(analyst_app: AnalystApp, body: dict[str, object]) -> None:
    with analyst_app.client("admin") as client:
        refused = client.post("/v1/silences", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"][:2] == ["body", "comment" if "comment" in body else "matchers"]


def test_a_printable_silence_is_created(analyst_app: AnalystApp) -> None:
    with analyst_app.client("admin") as client:
        created = client.post("/v1/silences", json={"matchers": {"topic": "Énergie \u00a0| Öl"}, "comment": "ok"})
    assert created.status_code == 201, created.text
    assert created.json()["matchers"] == {"topic": "Énergie \u00a0| Öl"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/articles/a%00b",
        "/v1/alerts/a%00b",
        "/v1/articles/" + "a" * 65,
        "/v1/deliveries?receiver=desk%00",
        "/v1/watchlists?owner=me%00",
    ],
)
def test_ids_and_names_with_control_characters_are_422(analyst_app: AnalystApp, path: str) -> None:
    with analyst_app.client("desk") as client:
        answer = client.get(path)
    assert answer.status_code == 422, answer.text


def test_printable_ids_and_names_are_read(analyst_app: AnalystApp) -> None:
    with analyst_app.client("desk") as client:
        assert client.get("/v1/articles/no-such-id").status_code == 404
        assert client.get(f"/v1/alerts/{analyst_app.seeded.fingerprint}").status_code == 200
        assert client.get("/v1/deliveries", params={"receiver": "desk"}).json()["items"]
        assert client.get("/v1/watchlists", params={"owner": "nobody here"}).json()["items"] == []
