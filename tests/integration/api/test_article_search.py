"""`GET /v1/articles?q=` on Postgres is full-text search (`websearch_to_tsquery('english', q)`):
English stems, quoted phrases, `-word` exclusions and `or`, over title and body. Every query here
has an answer that a LIKE on the words would get wrong ("rallies" is not a substring of "rallying",
a phrase is more than its words in any order, `-oil` and `or` are operators, not words), and each
answer is exact: the articles `SEARCH` names for it, read by the requested model version."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.db import store_batch
from tests.fixtures.analyst_app import AnalystApp
from tests.fixtures.article_oracle import VERSIONS, Dataset, dataset

pytestmark = pytest.mark.integration

RALLY = {"oil-rallies", "chips-rallying", "gold-fades"}
QUERIES = {
    "rallies": RALLY,  # stems: rallies, rallying and rally (in a body) are one word
    "RALLYING": RALLY,
    "rally": RALLY,
    '"fell sharply"': {"fell-sharply"},  # a phrase: not "Sharply lower ... Acme fell"
    "fell sharply": {"fell-sharply", "sharply-fell"},  # both words, anywhere
    '"rally that lasted"': {"gold-fades"},  # a phrase in a body, across a stop word
    "rally -oil": {"chips-rallying", "gold-fades"},
    "gold or chipmakers": {"gold-fades", "chips-rallying"},
    "opec or probe": {"oil-rallies", "fell-sharply"},
    '"sharply fell"': set(),
    "copperish": set(),
}


@pytest.fixture(scope="module")
def analyst_db(pg_module_url: str) -> Iterator[str]:
    """Postgres only (SQLite's search is a LIKE per word, documented in `pipeline.read.search`)."""
    yield pg_module_url


@pytest.fixture(scope="module")
def oracle(analyst_app: AnalystApp) -> Dataset:
    data = dataset()
    store_batch(analyst_app.engine, data.raws, data.enriched)
    return data


def searched(app: AnalystApp, q: str, **filters: str) -> list[str]:
    with app.client() as client:
        response = client.get("/v1/articles", params={"q": q, "limit": 200, **filters})
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [a["news_id"] for a in response.json()["items"]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("q", sorted(QUERIES))
def test_web_search_syntax_and_stems_answer_exactly(
    analyst_app: AnalystApp, oracle: Dataset, q: str, version: str
) -> None:
    read = {r.news_id for r in oracle.rows if r.model_version == version}
    want = {oracle.search_ids[key] for key in QUERIES[q]} & read
    found = searched(analyst_app, q, model_version=version)
    assert len(found) == len(set(found)) and set(found) == want


def test_search_with_other_filters_is_their_intersection(analyst_app: AnalystApp, oracle: Dataset) -> None:
    version = VERSIONS[0]
    rows = {r.news_id: r for r in oracle.rows if r.model_version == version}
    rally = {oracle.search_ids[key] for key in RALLY}
    for sentiment in ("negative", "neutral", "positive"):
        want = {i for i in rally if rows[i].sentiment == sentiment}
        assert set(searched(analyst_app, "rallies", model_version=version, sentiment=sentiment)) == want
    for ticker in ("ACME", "GLOBX", "INITECH"):
        want = {i for i in rally if ticker in rows[i].tickers}
        assert set(searched(analyst_app, "rally", model_version=version, ticker=ticker)) == want
