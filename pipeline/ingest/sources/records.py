"""`SourceRecord`: one item as read from a source, with its raw bytes kept for the DLQ."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """An item read from `origin` (e.g. `news.jsonl:12`); `item` is None when unreadable (`error`)."""

    raw: bytes
    item: Mapping[str, object] | None
    origin: str
    error: str | None = None
    error_type: str | None = None


def parse_json_line(raw: bytes, origin: str) -> SourceRecord:
    """One JSONL line -> a record holding a JSON object, or the reason it does not."""
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        return SourceRecord(raw, None, origin, f"not UTF-8: {exc}", "InvalidUtf8")
    except json.JSONDecodeError as exc:
        return SourceRecord(raw, None, origin, f"invalid JSON: {exc}", "InvalidJson")
    if not isinstance(value, dict):
        return SourceRecord(
            raw, None, origin, f"expected a JSON object, got {type(value).__name__}", "InvalidItem"
        )
    return SourceRecord(raw, value, origin)
