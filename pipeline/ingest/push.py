"""HTTP push, transport-free: a request body -> source records, and outcomes -> the JSON answer.

The body is a JSON object (one item) or a non-empty array of objects. Whole-body problems are a
`PushError` with its HTTP status (400 not UTF-8 / not JSON / nested too deep / wrong shape, 413
too many items); a bad *item* is not: it becomes a record the publisher rejects with a reason,
and the other items of the request go on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from pipeline.ingest.publisher import Outcome
from pipeline.ingest.sources.records import SourceRecord

SOURCE: Final = "http-push"
DEFAULT_MAX_BODY_BYTES: Final = 2 * 1024 * 1024
DEFAULT_MAX_ITEMS: Final = 1_000

STATUS_NAMES: Final = {"produced": "accepted", "duplicate": "duplicate", "rejected": "rejected", "dlq": "rejected"}


class PushError(Exception):
    """The body as a whole cannot be read: answer `status` with `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_push_body(body: bytes, *, max_items: int = DEFAULT_MAX_ITEMS) -> list[SourceRecord]:
    """One record per item of `body`; items that are not JSON objects are records with an error."""
    try:
        text = body.decode("utf-8-sig")  # json.loads(bytes) would also take UTF-16/32: the API says UTF-8
    except UnicodeDecodeError as exc:
        raise PushError(400, f"body is not UTF-8: {exc}") from exc
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PushError(400, f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise PushError(400, "invalid JSON: nested too deeply") from exc
    items = payload if isinstance(payload, list) else [payload]
    if not items or not isinstance(payload, dict | list):
        raise PushError(400, "expected a JSON object or a non-empty array of objects")
    if len(items) > max_items:
        raise PushError(413, f"{len(items)} items exceed the limit of {max_items} per request")
    return [_record(index, item) for index, item in enumerate(items)]


def _record(index: int, item: Any) -> SourceRecord:
    origin = f"{SOURCE}[{index}]"
    if isinstance(item, dict):
        return SourceRecord(b"", item, origin)
    return SourceRecord(b"", None, origin, f"expected a JSON object, got {_json_type(item)}", "InvalidItem")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def push_answer(outcomes: Sequence[Outcome]) -> tuple[int, dict[str, Any]]:
    """The status (202 when anything was taken, 422 when every item was rejected) and the JSON body."""
    items: list[dict[str, Any]] = []
    for index, outcome in enumerate(outcomes):
        entry: dict[str, Any] = {"index": index, "status": STATUS_NAMES[outcome.kind], "id": outcome.news_id}
        if outcome.kind == "duplicate" and outcome.verdict is not None:
            entry["duplicate_of"] = outcome.verdict.duplicate_of
            entry["match"] = outcome.verdict.kind
        if outcome.kind in ("rejected", "dlq"):
            entry["field"] = outcome.field
            entry["reason"] = outcome.reason
        items.append(entry)
    counts = {name: sum(1 for i in items if i["status"] == name) for name in ("accepted", "duplicate", "rejected")}
    status = 422 if counts["rejected"] == len(items) else 202
    return status, {**counts, "items": items}
