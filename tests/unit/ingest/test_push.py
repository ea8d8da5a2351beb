"""Push bodies -> records, and outcomes -> the answer (transport-free)."""

from __future__ import annotations

import json

import pytest

from pipeline.ingest.dedup import DedupVerdict
from pipeline.ingest.publisher import Outcome
from pipeline.ingest.push import PushError, parse_push_body, push_answer


def test_object_and_array_become_records() -> None:
    assert [r.item for r in parse_push_body(b'{"title": "a"}')] == [{"title": "a"}]
    records = parse_push_body(b'[{"title": "a"}, 42, null, [1]]')
    assert records[0].item == {"title": "a"}
    assert [r.error for r in records[1:]] == [
        "expected a JSON object, got number",
        "expected a JSON object, got null",
        "expected a JSON object, got array",
    ]
    assert [r.origin for r in records] == [f"http-push[{i}]" for i in range(4)]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"title": ', 400, "invalid JSON: Expecting value"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b"[]", 400, "non-empty array"),
        (b"42", 400, "JSON object"),
        (b'"text"', 400, "JSON object"),
        (json.dumps([{"title": "t"}] * 3).encode(), 413, "3 items exceed the limit of 2"),
    ],
)
def test_whole_body_errors(body: bytes, status: int, fragment: str) -> None:
    with pytest.raises(PushError) as info:
        parse_push_body(body, max_items=2)
    assert info.value.status == status and fragment in info.value.message


def test_answer_per_item_and_status() -> None:
    outcomes = [
        Outcome("produced", "a" * 32),
        Outcome("duplicate", "b" * 32, DedupVerdict("duplicate_title", "a" * 32)),
        Outcome("rejected", None, reason="missing or empty title", field="title"),
    ]
    status, body = push_answer(outcomes)
    assert status == 202
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 1)
    assert body["items"][1] == {
        "index": 1,
        "status": "duplicate",
        "id": "b" * 32,
        "duplicate_of": "a" * 32,
        "match": "duplicate_title",
    }
    assert body["items"][2]["reason"] == "missing or empty title" and body["items"][2]["field"] == "title"
    assert push_answer(outcomes[2:])[0] == 422
