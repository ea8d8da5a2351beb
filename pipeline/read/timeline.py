"""One topic over time: article counts by sentiment and the mean score per bucket (5 min, 1 h or
1 day, aligned to multiples of the bucket since the Unix epoch), every bucket listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Connection, select

from pipeline.db.models import Enrichment
from pipeline.read.figures import period_columns, period_figures
from pipeline.read.models import TimelineBucket
from pipeline.read.sql import bucket_key, bucket_number

BUCKETS: Final = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
MAX_BUCKETS: Final = 2_000
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def aligned_range(start: datetime, end: datetime, bucket: timedelta) -> tuple[datetime, datetime]:
    """`[start, end)` widened to whole buckets."""
    first = start - (start - EPOCH) % bucket
    last = end - (end - EPOCH) % bucket
    return first, last if last == end else last + bucket


def bucket_count(start: datetime, end: datetime, bucket: timedelta) -> int:
    first, last = aligned_range(start, end, bucket)
    return (last - first) // bucket


def topic_timeline(
    conn: Connection, model_version: str, topic: str, start: datetime, end: datetime, bucket: timedelta
) -> list[TimelineBucket]:
    """Every bucket of `[start, end)` (widened to whole buckets), oldest first."""
    first, last = aligned_range(start, end, bucket)
    e = Enrichment.__table__
    size = int(bucket.total_seconds())
    index = bucket_key(conn, e.c.published_at, first, size).label("bucket")
    rows = conn.execute(
        select(index, *period_columns(e, e.c.published_at >= first, "t"))
        .where(
            e.c.model_version == model_version,
            e.c.topic == topic,
            e.c.published_at >= first,
            e.c.published_at < last,
        )
        .group_by(index)
    ).all()
    found = {bucket_number(r.bucket, first, size): r for r in rows}
    out = []
    for i in range((last - first) // bucket):
        at = first + i * bucket
        f = period_figures(found.get(i), "t", at, at + bucket)
        out.append(
            TimelineBucket(
                start=at,
                count=f.count,
                negative=f.negative,
                neutral=f.neutral,
                positive=f.positive,
                negative_share=f.negative_share,
                mean_score=f.mean_score,
            )
        )
    return out
