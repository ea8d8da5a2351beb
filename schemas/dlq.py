"""Dead-letter contract: what `news.dlq` holds for a message that could not be processed."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from schemas.news import Contract, UtcDatetime, utc_now

Stage = Literal["ingest", "decode", "model", "store"]


class DeadLetter(Contract):
    """A message set aside with the reason, and its payload byte for byte (base64)."""

    schema_version: Literal[1] = 1
    stage: Stage
    reason: str = Field(min_length=1)
    error_type: str
    source: str = Field(description="topic, file, feed or endpoint the payload came from")
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    news_id: str | None = None
    payload_b64: str
    failed_at: UtcDatetime = Field(default_factory=utc_now)

    @classmethod
    def of(cls, payload: bytes, **fields: object) -> DeadLetter:
        return cls(payload_b64=base64.b64encode(payload).decode("ascii"), **fields)  # type: ignore[arg-type]

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
