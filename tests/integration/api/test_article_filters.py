"""`GET /v1/articles` filters answer exactly the rows an oracle computed in Python from the stored
articles selects: no row missing, none extra, none twice, newest first, across pages; on SQLite
and Postgres. Filters: model_version, topic, sentiment, ticker (an entity's link or the source's
list), entity (case-insensitive), from (inclusive) and to (exclusive), alone and combined."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from pipeline.db import store_batch
from tests.fixtures.alerts_data import MODEL_VERSION
from tests.fixtures.analyst_app import AnalystApp
from tests.fixtures.analyst_data import history
from tests.fixtures.article_oracle import (
    COMPANIES,
    SENTIMENTS,
    STEP,
    T0,
    TOPICS,
    VERSIONS,
    Dataset,
    Row,
    dataset,
)

pytestmark = pytest.mark.integration

Filters = dict[str, str]


@pytest.fixture(scope="module")
def oracle(analyst_app: AnalystApp) -> Dataset:
    """The oracle's articles, stored beside the seeded history (under their own model versions)."""
    data = dataset()
    store_batch(analyst_app.engine, data.raws, data.enriched)
    return data


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def expected(rows: list[Row], f: Filters) -> set[str]:
    """The oracle: the news ids of the rows that every filter in `f` keeps."""
    def keeps(r: Row) -> bool:
        return (
            r.model_version == f["model_version"]
            and f.get("topic", r.topic) == r.topic
            and f.get("sentiment", r.sentiment) == r.sentiment
            and ("ticker" not in f or f["ticker"].strip().upper() in r.tickers)
            and ("entity" not in f or f["entity"].strip().lower() in r.entities)
            and ("from" not in f or r.published_at >= datetime.fromisoformat(f["from"]))
            and ("to" not in f or r.published_at < datetime.fromisoformat(f["to"]))
        )

    return {r.news_id for r in rows if keeps(r)}


def listed(app: AnalystApp, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of every page, in order."""
    items: list[dict[str, Any]] = []
    cursor = None
    with app.client() as client:
        while True:
            response = client.get("/v1/articles", params={**params, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, (params, response.text)
            body = response.json()
            items += body["items"]
            if (cursor := body["next_cursor"]) is None:
                return items


def assert_exact(app: AnalystApp, rows: list[Row], f: Filters, *, limit: int = 200) -> None:
    items = listed(app, {**f, "limit": limit})
    ids = [a["news_id"] for a in items]
    assert len(ids) == len(set(ids)), f"listed twice: {f}"
    assert set(ids) == expected(rows, f), f
    times = [datetime.fromisoformat(a["published_at"]) for a in items]
    assert times == sorted(times, reverse=True), f
    by_id = {(r.news_id, r.model_version): r for r in rows}
    for a in items:  # each item is the requested version's reading of the article
        row = by_id[(a["news_id"], f["model_version"])]
        assert (a["model_version"], a["topic"], a["sentiment"]) == (row.model_version, row.topic, row.sentiment)


def _instant(k: int) -> str:
    """The publication instant of the k-th pair of articles."""
    return _iso(T0 + STEP * k)


SINGLES: list[Filters] = [
    {},
    *({"topic": t} for t in (*TOPICS, "No such topic")),
    *({"sentiment": s} for s in SENTIMENTS),
    *({"ticker": t} for t in (*COMPANIES, "acme", " $NONE ")),
    *({"entity": e} for e in ("Acme Corp", "GLOBEX", " initech ", "Acme")),
    {"from": _instant(6)},
    {"to": _instant(20)},
    {"from": _instant(6), "to": _instant(20)},
    {"from": _instant(9), "to": _instant(9)},  # empty range
]


def combinations(count: int, seed: int = 7) -> Iterator[Filters]:
    """`count` combinations of two to four filters, the same ones every run."""
    rng = random.Random(seed)
    choices: dict[str, list[str]] = {
        "topic": list(TOPICS),
        "sentiment": list(SENTIMENTS),
        "ticker": [*COMPANIES, "globx"],
        "entity": ["acme corp", "Globex", "INITECH"],
        "from": [_instant(k) for k in (0, 5, 12)],
        "to": [_instant(k) for k in (10, 18, 27)],
    }
    for _ in range(count):
        names = rng.sample(sorted(choices), rng.randint(2, 4))
        yield {name: rng.choice(choices[name]) for name in names}


@pytest.mark.parametrize("version", VERSIONS)
def test_each_filter_alone_is_exact(analyst_app: AnalystApp, oracle: Dataset, version: str) -> None:
    for f in SINGLES:
        assert_exact(analyst_app, oracle.rows, {"model_version": version, **f})


@pytest.mark.parametrize("version", VERSIONS)
def test_combined_filters_are_exact(analyst_app: AnalystApp, oracle: Dataset, version: str) -> None:
    cases = list(combinations(30))
    assert sum(bool(expected(oracle.rows, {"model_version": version, **f})) for f in cases) >= 10  # not all empty
    for f in cases:
        assert_exact(analyst_app, oracle.rows, {"model_version": version, **f})


def test_small_pages_list_every_row_once(analyst_app: AnalystApp, oracle: Dataset) -> None:
    """Ties in `published_at` fall on page boundaries: pages of 3 still list each row once."""
    for f in ({}, {"ticker": "ACME"}, {"topic": "Macro", "from": _instant(3)}):
        assert_exact(analyst_app, oracle.rows, {"model_version": VERSIONS[0], **f}, limit=3)


def test_the_default_version_is_the_active_one_exactly(analyst_app: AnalystApp, oracle: Dataset) -> None:
    """Without `model_version`, the active version's articles only (not the oracle's versions)."""
    raws, enriched = history()
    listed_by = {raw.id: set(raw.tickers) for raw in raws}
    for f in ({"topic": "Earnings", "sentiment": "negative", "ticker": "acme"}, {"sentiment": "positive"}):
        want = {
            e.news_id
            for e in enriched
            if f.get("topic", e.topic) == e.topic
            and f["sentiment"] == e.sentiment
            and ("ticker" not in f or "ACME" in listed_by[e.news_id] | {m.ticker for m in e.entities})
        }
        items = listed(analyst_app, {**f, "limit": 200})
        assert sorted(a["news_id"] for a in items) == sorted(want), f
        assert {a["model_version"] for a in items} == {MODEL_VERSION}
