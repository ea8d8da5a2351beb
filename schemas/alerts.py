"""Alert contract: `AlertEvent` on `alerts.events`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.news import Contract, UtcDatetime, utc_now

AlertStatus = Literal["firing", "resolved"]


class AlertWindow(Contract):
    start: UtcDatetime
    end: UtcDatetime


class AlertEvent(Contract):
    """A firing or a resolution of one alert (one fingerprint)."""

    schema_version: Literal[1] = 1
    fingerprint: str = Field(min_length=8, max_length=64)
    rule: str
    topic: str
    status: AlertStatus
    window: AlertWindow
    figures: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    severity: str = "warning"
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    emitted_at: UtcDatetime = Field(default_factory=utc_now)
    model_version: str | None = Field(default=None, max_length=100)
    """The model version whose enrichments the rule evaluated (part of the fingerprint)."""
