"""Silences: mute matching alerts for a while (`finsent silence add|list|expire`).

A silence holds equality matchers on alert labels (`topic`, `rule`, `ticker`, `severity` or any
rule label); every matcher must equal the alert's label. Silenced alerts still move through their
lifecycle; their firings and repeats are not notified. A resolution is sent when its firing was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from alerts.text import printable
from pipeline.db.models import Silence as SilenceRow
from pipeline.read.cursor import Keyset


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches(self.matchers, labels)


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every matcher equals the corresponding label (an empty matcher set matches nothing)."""
    return bool(matchers) and all(labels.get(name) == value for name, value in matchers.items())


def is_silenced(silences: Sequence[Silence], labels: Mapping[str, str], now: datetime) -> bool:
    return any(s.active_at(now) and s.matches(labels) for s in silences)


def _from_row(row: Any) -> Silence:
    return Silence(
        id=row.id,
        matchers={str(k): str(v) for k, v in (row.matchers or {}).items()},
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
    )


def add_silence(
    engine: Engine,
    matchers: Mapping[str, str],
    *,
    now: datetime,
    duration: timedelta,
    comment: str = "",
    created_by: str = "cli",
) -> Silence:
    if not matchers:
        raise ValueError("[ALR010] a silence needs at least one matcher (e.g. --topic)")
    if duration <= timedelta(0):
        raise ValueError("[ALR011] a silence needs a positive duration")
    try:
        for name, value in matchers.items():
            printable(value, f"matcher {printable(name, 'matcher name')!r}")
        printable(comment, "comment")
    except ValueError as exc:
        raise ValueError(f"[ALR012] {exc}") from None
    with engine.begin() as conn:
        statement = insert(SilenceRow).values(
            matchers=dict(matchers),
            starts_at=now,
            ends_at=now + duration,
            comment=comment,
            created_by=created_by,
            created_at=now,
        )
        new_id = int(conn.execute(statement.returning(SilenceRow.id)).scalar_one())
    return Silence(new_id, dict(matchers), now, now + duration, comment, created_by)


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    query = select(SilenceRow.__table__).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    return [_from_row(r) for r in _rows(conn, query)]


def list_silences(engine: Engine, now: datetime, *, include_expired: bool = False) -> list[Silence]:
    query = select(SilenceRow.__table__).order_by(SilenceRow.id)
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    with engine.connect() as conn:
        return [_from_row(r) for r in _rows(conn, query)]


def silences_page(
    conn: Connection, now: datetime, *, include_expired: bool = False, after: Keyset | None = None, limit: int = 50
) -> tuple[list[Silence], Keyset | None]:
    """One page of silences, newest first (by creation), and the key to continue after (None: last page)."""
    query = select(SilenceRow.__table__).order_by(SilenceRow.created_at.desc(), SilenceRow.id.desc()).limit(limit + 1)
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    if after is not None:
        query = query.where(after.before(SilenceRow.created_at, SilenceRow.id))
    rows = _rows(conn, query)
    last = rows[limit - 1] if len(rows) > limit else None
    return [_from_row(r) for r in rows[:limit]], (Keyset(last.created_at, last.id) if last is not None else None)


def expire_silence(engine: Engine, silence_id: int, now: datetime) -> bool:
    """End a silence now; False when it does not exist or has already ended."""
    with engine.begin() as conn:
        row = conn.execute(
            select(SilenceRow.starts_at, SilenceRow.ends_at).where(SilenceRow.id == silence_id)
        ).first()
        if row is None or row.ends_at <= now:
            return False
        starts_at = min(row.starts_at, now - timedelta(microseconds=1))
        conn.execute(
            update(SilenceRow).where(SilenceRow.id == silence_id).values(starts_at=starts_at, ends_at=now)
        )
    return True


def _rows(conn: Connection, query: Any) -> list[Any]:
    return list(conn.execute(query))
