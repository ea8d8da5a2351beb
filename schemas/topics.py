"""Kafka topic names: the one place they are spelled."""

from __future__ import annotations

from typing import Final

RAW: Final = "news.raw"
ENRICHED: Final = "news.enriched"
DLQ: Final = "news.dlq"
ALERTS: Final = "alerts.events"
REPLAY: Final = "news.replay"

ALL: Final = (RAW, ENRICHED, DLQ, ALERTS, REPLAY)
