"""Dead-letter contract: what `news.dlq` holds for a message that could not be processed."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from schemas.news import Contract, UtcDatetime, utc_now
from schemas.sanitize import CleanLine, CleanText

Stage = Literal["ingest", "decode", "model", "store"]

MAX_PAYLOAD_BYTES = 6_000_000
"""Payload bytes a dead letter keeps: their base64 (8,000,000 chars) plus the letter's other fields
stays under the 8 MiB record limit, so a letter can always be produced (a larger payload keeps its
head; `payload_size` says how big it was)."""


class DeadLetter(Contract):
    """A message set aside with the reason, and its payload byte for byte (base64)."""

    schema_version: Literal[1] = 1
    stage: Stage
    reason: CleanText = Field(min_length=1)
    error_type: CleanLine
    source: CleanLine = Field(description="topic, file, feed or endpoint the payload came from")
    partition: int | None = None
    offset: int | None = None
    key: CleanLine | None = None
    news_id: CleanLine | None = None
    payload_b64: str
    payload_size: int | None = Field(
        default=None, description="bytes of the original payload when `payload_b64` holds only its head"
    )
    failed_at: UtcDatetime = Field(default_factory=utc_now)

    @classmethod
    def of(cls, payload: bytes, **fields: object) -> DeadLetter:
        """A letter for `payload`, cut to `MAX_PAYLOAD_BYTES` (with `payload_size` set) if longer."""
        size = len(payload) if len(payload) > MAX_PAYLOAD_BYTES else None
        head = payload[:MAX_PAYLOAD_BYTES]
        return cls(payload_b64=base64.b64encode(head).decode("ascii"), payload_size=size, **fields)  # type: ignore[arg-type]

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
