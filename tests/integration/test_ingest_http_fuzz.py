"""Property-based fuzzing of `POST /v1/news` on the live app over the real broker and Postgres.

Arbitrary Unicode (NUL, lone surrogates, RTL, emoji, 1 MB titles), bad times, nesting, wrong
types, raw bytes: the server never answers 5xx and never drops the connection, every item of a
readable body is answered accepted / duplicate / rejected with a reason, the server is still
healthy afterwards, and every accepted id is in news.raw.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import RawNews, decode
from tests.fixtures.ingest import LiveApp, read_topic
from tests.fixtures.kafka import KafkaTopics

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),  # repr of 1 MB examples
]

MAX_EXAMPLES = 60

NASTY = [
    "\x00",
    "nul \x00 inside",
    "\ud800",
    "lone \udfff low",
    "\u202eRTL override\u202c",
    "مرحبا بالعالم",
    "📉📈 💸",
    "\ufeffBOM",
    "<script>alert(1)</script>",
    "&lt;!channel&gt;",
    "\u200b\u200d",
    " ",
    "",
]
texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200),
    st.just("T" * 1_000_000),  # a 1 MB title: over the title limit, inside the body limit
)
times = st.one_of(
    st.none(),
    st.sampled_from(["2026-11-27T14:00:00Z", "soon", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


plausible = st.fixed_dictionaries(  # mostly valid items with hostile text in them
    {
        "title": st.builds("{} beats estimates {}".format, st.sampled_from(NASTY), st.text(max_size=30)),
        "url": st.integers(min_value=0, max_value=10**9).map("https://example.com/fuzz/{}".format),
    },
    optional={"published_at": times, "body": texts, "source": st.sampled_from(NASTY[4:])},
)
items = st.one_of(
    plausible,
    st.fixed_dictionaries(
        {"title": st.one_of(texts, json_values)},
        optional={
            "url": st.one_of(texts, st.just("https://example.com/a"), json_values),
            "published_at": times,
            "source": st.one_of(texts, json_values),
            "body": st.one_of(texts, json_values),
            "tickers": st.one_of(texts, st.lists(texts, max_size=3), json_values),
            "language": st.one_of(texts, json_values),
        },
    ),
    json_values,
    st.integers(min_value=1, max_value=400).map(lambda depth: {"title": deep(depth)}),
)


def encode_body(value: Any) -> bytes:
    """JSON with \\uXXXX escapes (lone surrogates survive as escapes), NaN/Infinity as Python writes them."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


bodies = st.one_of(
    items.map(encode_body),
    st.lists(items, min_size=1, max_size=8).map(encode_body),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@pytest.fixture
def client(live_app: LiveApp) -> Any:
    with live_app.client() as c:
        yield c


def test_fuzzed_pushes_are_always_answered(
    live_app: LiveApp, client: httpx.Client, kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    accepted: set[str] = set()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies)
    def push(body: bytes) -> None:
        response = client.post("/v1/news", content=body, headers={"Content-Type": "application/json"})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (202, 400, 413, 422), response.text[:300]
        answer = response.json()
        if response.status_code in (400, 413):
            assert answer["error"]
            return
        for item in answer["items"]:
            assert item["status"] in ("accepted", "duplicate", "rejected")
            if item["status"] == "rejected":
                assert item["reason"]
            else:
                assert item["id"]
            if item["status"] == "accepted":
                accepted.add(item["id"])
        assert answer["accepted"] + answer["duplicate"] + answer["rejected"] == len(answer["items"])

    push()
    assert client.get("/healthz").json()["ok"] is True  # the server never stopped
    counts = live_app.publisher.counts
    assert counts.ingested == counts.produced + counts.deduplicated + counts.rejected + counts.dlq
    records = read_topic(kafka_bootstrap, kafka_topics.raw, len(accepted))
    stored = {n.id for n in (decode(r.value, RawNews) for r in records) if isinstance(n, RawNews)}
    assert stored == accepted and len(records) == len(accepted)
    print(f"statuses={statuses} accepted={len(accepted)} counts={counts.as_dict()}")
