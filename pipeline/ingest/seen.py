"""Durable dedup: the items every ingest process has produced, in the database (`ingest_seen`).

What is durable: every check of `pipeline.ingest.dedup` — the exact id (the table's unique key),
the normalised title and the simhash bands — for `retention` after an item was produced. So a
restarted ingest process, or a second one beside it (feeds in one, `finsent serve` in another),
does not re-send what was already acknowledged. Only hashes are stored, never headline text.

A row is written *after* the broker acknowledged its record (`record`), never before: an item
whose send failed is not in the table, so the sender's retry is accepted, not called a duplicate.
Two processes that receive the same new item at the same instant may both produce it (the model
worker stores it once: writes are idempotent on the news id); the first `record` wins the row.
Rows older than `retention` are ignored by `candidates` and deleted by `prune`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, delete, or_, select

from pipeline.db.insert import CHUNK_ROWS, chunked, insert_for
from pipeline.db.models import IngestSeen
from pipeline.ingest.dedup import DedupKey, bands
from schemas import utc_now

log = logging.getLogger(__name__)

LOOKUP_CHUNK: Final = 200
"""Keys per lookup query (7 bind parameters each: well under SQLite's and Postgres' limits)."""
DEFAULT_RETENTION: Final = timedelta(days=7)
PRUNE_EVERY_S: Final = 600.0

_SIGN: Final = 1 << 63
_TABLE: Final = IngestSeen.__table__
_BAND_COLUMNS: Final = tuple(_TABLE.c[f"band{i}"] for i in range(4))


def _signed(value: int) -> int:
    """A 64-bit unsigned simhash as the signed integer a BIGINT column holds (and back)."""
    return value - (1 << 64) if value >= _SIGN else value


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class SeenStore:
    """The `ingest_seen` table on `engine`; thread-safe (one engine, short transactions)."""

    def __init__(
        self,
        engine: Engine,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError("retention must be positive")
        self.engine = engine
        self.retention = retention
        self._clock = clock
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()

    def candidates(self, keys: Sequence[DedupKey]) -> list[DedupKey]:
        """Unexpired rows that share an id, a title hash or a simhash band with any of `keys`."""
        found: dict[str, DedupKey] = {}
        cutoff = self._clock() - self.retention
        with self.engine.connect() as conn:
            for chunk in chunked(keys, LOOKUP_CHUNK):
                conditions = [
                    _TABLE.c.news_id.in_({k.news_id for k in chunk}),
                    _TABLE.c.title_hash.in_({k.title_hash for k in chunk}),
                ]
                hashed = [bands(k.simhash) for k in chunk if k.simhash is not None]
                conditions += [
                    column.in_({b[i] for b in hashed}) for i, column in enumerate(_BAND_COLUMNS) if hashed
                ]
                query = select(*_TABLE.c).where(_TABLE.c.seen_at >= cutoff, or_(*conditions))
                for row in conn.execute(query).mappings():
                    found[row["news_id"]] = _key(row)
        return list(found.values())

    def record(self, keys: Iterable[DedupKey]) -> int:
        """Remember `keys` as produced now (an existing row for the id is refreshed); returns the count."""
        now = self._clock()
        rows = [_row(key, now) for key in {k.news_id: k for k in keys}.values()]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            for chunk in chunked(rows, CHUNK_ROWS):
                statement = insert_for(conn, _TABLE).values(list(chunk))
                refreshed = {name: statement.excluded[name] for name in rows[0] if name != "news_id"}
                conn.execute(statement.on_conflict_do_update(index_elements=["news_id"], set_=refreshed))
        self._maybe_prune()
        return len(rows)

    def prune(self) -> int:
        """Delete rows older than the retention; returns how many went."""
        cutoff = self._clock() - self.retention
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(_TABLE).where(_TABLE.c.seen_at < cutoff)).rowcount
        if deleted:
            log.info("pruned %d dedup rows seen before %s", deleted, cutoff.isoformat())
        return int(deleted or 0)

    def _maybe_prune(self) -> None:
        with self._prune_lock:
            if time.monotonic() - self._last_prune < PRUNE_EVERY_S:
                return
            self._last_prune = time.monotonic()
        self.prune()


def _row(key: DedupKey, seen_at: datetime) -> dict[str, Any]:
    band_values: tuple[int | None, ...] = bands(key.simhash) if key.simhash is not None else (None,) * 4
    return {
        "news_id": key.news_id,
        "title_hash": key.title_hash,
        "simhash": _signed(key.simhash) if key.simhash is not None else None,
        **{f"band{i}": value for i, value in enumerate(band_values)},
        "numbers_hash": key.numbers_hash,
        "published_at": key.published_at,
        "seen_at": seen_at,
    }


def _key(row: Mapping[str, Any]) -> DedupKey:
    return DedupKey(
        news_id=row["news_id"],
        title_hash=row["title_hash"],
        simhash=_unsigned(row["simhash"]) if row["simhash"] is not None else None,
        numbers_hash=row["numbers_hash"],
        published_at=row["published_at"],
    )
