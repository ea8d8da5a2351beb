"""What a read shows: the model version (asked for, else the active one, else the latest stored)
and the event-time instant "now" it is read at.

Reads are in event time, like alerts: unless a request names an instant (`at`), "now" is the
newest stored article's minute (rounded up), or the wall clock when that is later. A replayed
history or a demo database therefore shows its last day, not an empty chart, and a live
deployment (articles arriving every minute) reads at the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, func, select

from pipeline.db.activation import active_version
from pipeline.db.models import Enrichment

VersionSource = Literal["requested", "setting", "activated", "latest", "none"]
CLOCK_STEP = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ReadScope:
    model_version: str | None
    """None: nothing is stored yet."""
    version_source: VersionSource
    as_of: datetime
    newest_article: datetime | None


def resolve_scope(
    engine: Engine,
    *,
    wall_now: datetime,
    requested_version: str | None = None,
    configured_version: str | None = None,
    at: datetime | None = None,
) -> ReadScope:
    """The scope of one read; see the module docstring."""
    version, source = _version(engine, requested_version, configured_version)
    newest = None
    if version is not None:
        with engine.connect() as conn:
            newest = conn.scalar(select(func.max(Enrichment.published_at)).where(Enrichment.model_version == version))
    return ReadScope(version, source, at if at is not None else event_clock(newest, wall_now), newest)


def event_clock(newest: datetime | None, wall_now: datetime) -> datetime:
    """The newest article's minute rounded up, capped at the wall clock (which it is without data)."""
    if newest is None:
        return wall_now
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rounded = newest - (newest - epoch) % CLOCK_STEP + CLOCK_STEP
    return min(rounded, wall_now)


def _version(
    engine: Engine, requested: str | None, configured: str | None
) -> tuple[str | None, VersionSource]:
    if requested:
        return requested, "requested"
    active = active_version(engine, configured)
    if active.model_version is not None:
        return active.model_version, "setting" if active.source == "setting" else "activated"
    with engine.connect() as conn:
        latest = conn.scalar(select(Enrichment.model_version).order_by(Enrichment.id.desc()).limit(1))
    return (str(latest), "latest") if latest is not None else (None, "none")
