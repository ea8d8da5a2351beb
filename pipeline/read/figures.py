"""Per-period counts and mean score as SQL aggregates, and the `PeriodFigures` they make."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func

from pipeline.read.models import PeriodFigures

SENTIMENT_COLUMNS = ("negative", "neutral", "positive")


def period_columns(
    e: Table, within: ColumnElement[bool], prefix: str, sentiment: ColumnElement[str] | None = None
) -> list[ColumnElement[Any]]:
    """count, negative, neutral, positive, mean score of the rows `within` a period, labelled
    `{prefix}_count` ...; `sentiment` defaults to the enrichment's."""
    sentiment = e.c.sentiment if sentiment is None else sentiment
    return [
        func.count().filter(within).label(f"{prefix}_count"),
        *(func.count().filter(and_(within, sentiment == s)).label(f"{prefix}_{s}") for s in SENTIMENT_COLUMNS),
        func.avg(e.c.sentiment_score).filter(within).label(f"{prefix}_mean"),
    ]


def period_figures(row: Any, prefix: str, start: datetime, end: datetime) -> PeriodFigures:
    """The figures of `period_columns(..., prefix)` in a result row (None row: an empty period)."""
    values = row._mapping if row is not None else {}
    count = int(values.get(f"{prefix}_count") or 0)
    negative = int(values.get(f"{prefix}_negative") or 0)
    mean = values.get(f"{prefix}_mean")
    return PeriodFigures(
        start=start,
        end=end,
        count=count,
        negative=negative,
        neutral=int(values.get(f"{prefix}_neutral") or 0),
        positive=int(values.get(f"{prefix}_positive") or 0),
        negative_share=negative / count if count else None,
        mean_score=float(mean) if count and mean is not None else None,
    )


def change(now: float | None, before: float | None) -> float | None:
    return now - before if now is not None and before is not None else None
