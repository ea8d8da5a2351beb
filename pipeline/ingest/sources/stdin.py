"""JSON Lines from a stream (stdin): one JSON object per line, blank lines skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from pipeline.ingest.sources.records import SourceRecord, parse_json_line


def read_jsonl_stream(stream: BinaryIO, *, name: str = "stdin") -> Iterator[SourceRecord]:
    """Yield one record per non-blank line of `stream` (read lazily, line by line)."""
    for number, line in enumerate(stream, start=1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield parse_json_line(raw, f"{name}:{number}")
