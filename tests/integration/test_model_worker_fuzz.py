"""Property-based bad input over decode -> normalise -> store, through the real broker, the real
model and Postgres: arbitrary Unicode (NUL, lone surrogates, RTL and bidi overrides, emoji, 1 MB
titles), bad times, deep nesting, wrong types, bytes that are not UTF-8 or not JSON.

Every record ends stored, deduplicated or in `news.dlq` with a reason; the worker never stops;
`consumed = stored + deduplicated + dlq`; and what the contract accepts, Postgres stores (no
`store`-stage dead letters: the sanitising step leaves nothing for the database to refuse).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from pipeline.kafka.clients import ensure_topics
from pipeline.model import Predictor
from schemas import RawNews, decode
from tests.fixtures.kafka import TEST_PARTITIONS, KafkaTopics
from tests.integration.test_model_worker import distinct_enriched_ids, produce, worker_for
from tests.integration.test_model_worker_faults import dead_letters

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCH = 40
SPECIALS = ["\x00", "\ud800", "\udfff", "\u202e", "\u2066", "\u200f", "مرحبا", "שלום", "😀", "\r\n", "\x85", "\x1b[31m", "\ufeff"]

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())
mixed = st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=8)), max_size=12).map("".join)
headline = st.just("Oil prices jump after OPEC agrees deeper output cuts")
texts = st.one_of(
    st.text(any_char, max_size=80), mixed, headline, mixed, headline, st.text(any_char, max_size=80),
    st.just("x" * 1_000_000),  # a 1 MB title or body, one draw in seven
)  # fmt: skip
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), timezones=st.timezones()).map(lambda d: d.isoformat()),  # noqa: DTZ001
    st.datetimes(min_value=datetime(1900, 1, 1)).map(lambda d: d.isoformat()),  # noqa: DTZ001 - naive
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "not a date", "", "2026-13-45"]),
    st.integers(),
    st.none(),
)
wrong_types = st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.lists(st.integers(), max_size=3))
nested = st.integers(1, 800).map(lambda depth: json.loads("[" * depth + "]" * depth))


@st.composite
def items(draw: st.DrawFn) -> dict[str, object]:
    item: dict[str, object] = {
        "source": draw(st.one_of(texts, wrong_types)),
        "title": draw(st.one_of(texts, texts, wrong_types)),
        "published_at": draw(times),
    }
    for name, values in (
        ("body", st.one_of(texts, wrong_types)),
        ("url", st.one_of(st.none(), texts, st.just("https://example.com/a?utm_source=x"))),
        ("tickers", st.one_of(st.lists(texts, max_size=3), nested, wrong_types)),
        ("language", st.one_of(st.none(), texts)),
        ("id", st.one_of(texts, st.just("0123456789abcdef0123456789abcdef"))),
    ):
        if draw(st.booleans()):
            item[name] = draw(values)
    return item


@st.composite
def dirty_valid_items(draw: st.DrawFn) -> bytes:
    """Right types, dirty text: what the sanitising step must turn into storable rows."""
    item = {
        "source": "wire " + draw(mixed),
        "title": draw(st.sampled_from(["Acme ", "Fed ", "中文 ", "!!! "])) + draw(mixed),
        "body": draw(st.one_of(mixed, st.text(any_char, max_size=200))),
        "published_at": draw(
            st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones())  # noqa: DTZ001
        ).isoformat(),
        "tickers": draw(st.lists(mixed.map(lambda ticker: ticker[:32]), max_size=3)),
    }
    return json.dumps(item, ensure_ascii=True).encode()


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["item", "item", "item", "item", "raw-utf8", "bytes", "deep", "not-object"]))
    if kind == "item":
        ascii_escapes = draw(st.booleans())  # \ud800 escapes, or the characters themselves (CESU bytes)
        return json.dumps(draw(items()), ensure_ascii=ascii_escapes).encode("utf-8", "surrogatepass")
    if kind == "raw-utf8":
        return draw(st.text(any_char, max_size=50)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(100, 100_000))
        return b'{"source": "s", "title": "t", "published_at": "2026-01-01T00:00:00Z", "tickers": ' + (
            b"[" * depth + b"]" * depth + b"}"
        )
    return json.dumps(draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text()))).encode()


@settings(
    max_examples=2,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(st.lists(payloads(), min_size=BATCH, max_size=BATCH), st.lists(dirty_valid_items(), min_size=10, max_size=10))
def test_every_input_ends_stored_deduplicated_or_dead_lettered_with_a_reason(
    kafka_bootstrap: str, pg_engine: Engine, predictor: Predictor, bad: list[bytes], dirty: list[bytes]
) -> None:
    batch = [payload for pair in zip(bad[: len(dirty)], dirty, strict=True) for payload in pair] + bad[len(dirty) :]
    topics = KafkaTopics.unique("fuzz")  # fresh topics per example; the database is shared
    ensure_topics(kafka_bootstrap, topics.all, partitions=TEST_PARTITIONS)
    produce(kafka_bootstrap, topics.raw, [(None, payload) for payload in batch])
    worker, consumer = worker_for(kafka_bootstrap, topics, pg_engine, predictor)
    try:
        totals = worker.run(threading.Event(), until=lambda t: t.consumed >= len(batch))
    finally:
        consumer.close(autocommit=False)

    assert totals.consumed == len(batch)
    print(f"figures: fuzz batch {totals.as_dict()} dead letters by stage {totals.dlq_reasons}")
    assert totals.consumed == totals.stored + totals.deduplicated + totals.dlq
    decoded = [decode(payload, RawNews) for payload in batch]
    valid = {d.id for d in decoded if isinstance(d, RawNews)}
    assert all(isinstance(decode(p, RawNews), RawNews) for p in dirty), "dirty text of the right type is kept"
    letters = dead_letters(kafka_bootstrap, topics, totals.dlq) if totals.dlq else []
    assert all(letter.reason.strip() and letter.error_type for letter in letters)
    by_stage = {stage: [x for x in letters if x.stage == stage] for stage in ("decode", "model", "store")}
    assert len(by_stage["decode"]) == sum(not isinstance(d, RawNews) for d in decoded)
    assert by_stage["store"] == [], [x.reason for x in by_stage["store"]]
    unscored = {x.news_id for x in by_stage["model"]}
    assert all(x.reason.startswith("not scored:") for x in by_stage["model"])
    assert unscored <= valid
    assert valid - unscored <= distinct_enriched_ids(pg_engine)
    assert {letter.payload for letter in by_stage["decode"]} <= set(batch)
