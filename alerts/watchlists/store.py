"""Watchlists in the database: add, list, remove, and the changes a stream worker has not seen.

Every write first takes the next value of the one-row `watchlist_revision` counter (an upsert, so
writers serialise on that row until they commit; no row yet means revision 0) and stamps it on the rows it writes. Revisions
therefore commit in order, and a reader that sees revision R has every write up to R committed:
`changes_since(seen)` reads the counter, then the rows with `seen < revision <= R`. Removal is
soft (`deleted_at`), so removed watchlists come back as removals and their notices keep their row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from alerts.watchlists.model import QuietHours, RateLimit, SentimentCondition, Watchlist, WatchlistSpec
from pipeline.db.insert import insert_for
from pipeline.db.models import WatchlistNotice, WatchlistRevision, WatchlistRow


class WatchlistError(ValueError):
    """[WCH001] A watchlist cannot be written as asked (e.g. its name is taken)."""


@dataclass(frozen=True, slots=True)
class Changes:
    revision: int
    """The revision these changes bring a reader to."""
    upserted: tuple[Watchlist, ...]
    removed: tuple[int, ...]


def _next_revision(conn: Connection) -> int:
    """The next revision: an upsert of the counter row, which holds it locked until commit."""
    r = WatchlistRevision
    upsert = insert_for(conn, r).values(id=1, value=1)
    upsert = upsert.on_conflict_do_update(index_elements=[r.id], set_={"value": r.value + 1})
    return int(conn.execute(upsert.returning(r.value)).scalar_one())


def current_revision(conn: Connection) -> int:
    return int(conn.scalar(select(WatchlistRevision.value).where(WatchlistRevision.id == 1)) or 0)


def spec_row(spec: WatchlistSpec) -> dict[str, Any]:
    """The column values of a spec."""
    return {
        "name": spec.name,
        "owner": spec.owner,
        "tickers": list(spec.tickers),
        "entities": list(spec.entities),
        "topics": list(spec.topics),
        "condition": spec.condition.model_dump(mode="json", exclude_defaults=True),
        "min_relevance": spec.min_relevance,
        "receivers": list(spec.receivers),
        "quiet_hours": spec.quiet_hours.model_dump(mode="json") if spec.quiet_hours else None,
        "rate_limit": spec.rate_limit.model_dump(mode="json") if spec.rate_limit else None,
    }


def from_row(row: Any) -> Watchlist:
    return Watchlist(
        id=row.id,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        name=row.name,
        owner=row.owner,
        tickers=tuple(row.tickers or ()),
        entities=tuple(row.entities or ()),
        topics=tuple(row.topics or ()),
        condition=SentimentCondition.model_validate(row.condition or {}),
        min_relevance=row.min_relevance,
        receivers=tuple(row.receivers or ()),
        quiet_hours=QuietHours.model_validate(row.quiet_hours) if row.quiet_hours else None,
        rate_limit=RateLimit.model_validate(row.rate_limit) if row.rate_limit else None,
    )


def add_watchlist(engine: Engine, spec: WatchlistSpec, *, now: datetime) -> Watchlist:
    """Store a new watchlist; `WatchlistError` when an active one has the same name."""
    w = WatchlistRow
    with engine.begin() as conn:
        revision = _next_revision(conn)  # from here on, other writers wait: the name check cannot race
        taken = conn.scalar(select(w.id).where(w.name == spec.name, w.deleted_at.is_(None)))
        if taken is not None:
            raise WatchlistError(f"[WCH001] a watchlist named {spec.name!r} exists already (id {taken})")
        values = {**spec_row(spec), "revision": revision, "created_at": now, "updated_at": now}
        new_id = int(conn.execute(insert(w).values(values).returning(w.id)).scalar_one())
    return Watchlist(id=new_id, revision=revision, created_at=now, updated_at=now, **spec.model_dump())


def add_watchlists(engine: Engine, specs: Sequence[WatchlistSpec], *, now: datetime) -> list[int]:
    """Store many watchlists in one transaction under one revision (an import); their ids.
    `WatchlistError` (nothing stored) when a name is taken or repeated."""
    w = WatchlistRow
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise WatchlistError("[WCH002] the watchlists to add repeat a name")
    with engine.begin() as conn:
        revision = _next_revision(conn)
        taken = set(conn.scalars(select(w.name).where(w.deleted_at.is_(None))))
        if clash := sorted(taken & set(names)):
            raise WatchlistError(f"[WCH001] watchlists named {clash[:5]} exist already")
        rows = [{**spec_row(s), "revision": revision, "created_at": now, "updated_at": now} for s in specs]
        return [int(i) for i in conn.scalars(insert(w).returning(w.id, sort_by_parameter_order=True), rows)]


def remove_watchlist(engine: Engine, ref: int | str, *, now: datetime) -> Watchlist | None:
    """Remove the active watchlist with this id (an int) or name (a str); None when there is none."""
    w = WatchlistRow
    with engine.begin() as conn:
        revision = _next_revision(conn)
        where = w.id == ref if isinstance(ref, int) else w.name == ref
        row = conn.execute(select(w.__table__).where(where, w.deleted_at.is_(None))).first()
        if row is None:
            return None  # the counter moved on with no row: readers find nothing new, harmlessly
        conn.execute(update(w).where(w.id == row.id).values(deleted_at=now, updated_at=now, revision=revision))
    return from_row(row)


def list_watchlists(engine: Engine, *, owner: str | None = None) -> list[Watchlist]:
    """The active watchlists (of `owner`, when given), by id."""
    w = WatchlistRow
    query = select(w.__table__).where(w.deleted_at.is_(None)).order_by(w.id)
    if owner is not None:
        query = query.where(w.owner == owner)
    with engine.connect() as conn:
        return [from_row(r) for r in conn.execute(query)]


def get_watchlist(engine: Engine, watchlist_id: int) -> Watchlist | None:
    w = WatchlistRow
    with engine.connect() as conn:
        row = conn.execute(select(w.__table__).where(w.id == watchlist_id, w.deleted_at.is_(None))).first()
    return from_row(row) if row is not None else None


def changes_since(engine: Engine, seen: int) -> Changes:
    """What changed after revision `seen` (everything for `seen` = 0), up to the current revision."""
    w = WatchlistRow
    with engine.connect() as conn:
        revision = current_revision(conn)
        if revision <= seen:
            return Changes(seen, (), ())
        rows: Sequence[Any] = conn.execute(
            select(w.__table__).where(w.revision > seen, w.revision <= revision).order_by(w.revision)
        ).all()
    upserted = tuple(from_row(r) for r in rows if r.deleted_at is None)
    removed = tuple(int(r.id) for r in rows if r.deleted_at is not None)
    return Changes(revision, upserted, removed)


def recent_notices(engine: Engine, *, watchlist_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest notices (queued and suppressed, with why), newest first."""
    n = WatchlistNotice
    query = select(
        n.notice_id, n.watchlist_id, n.kind, n.news_id, n.model_version, n.alert_fingerprint, n.alert_status,
        n.status, n.reason, n.event_at, n.created_at,
    ).order_by(n.id.desc()).limit(limit)
    if watchlist_id is not None:
        query = query.where(n.watchlist_id == watchlist_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
