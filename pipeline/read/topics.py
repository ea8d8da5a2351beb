"""Every topic now: volume, negative share and mean score in a window against the baseline
before it, and the negative share per hour over the last 24 hours (the overview's sparkline)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from pipeline.db.models import Enrichment
from pipeline.read.figures import change, period_columns, period_figures
from pipeline.read.models import SparkPoint, TopicSummary
from pipeline.read.sql import bucket_key, bucket_number

SPARK_SPAN = timedelta(hours=24)
SPARK_STEP = timedelta(hours=1)


def topic_summaries(
    conn: Connection, model_version: str, as_of: datetime, *, window: timedelta, baseline: timedelta
) -> list[TopicSummary]:
    """Every topic with an article in the baseline, the window or the last 24 h, busiest first.

    The window is `[as_of - window, as_of)`, the baseline the `baseline` before it.
    """
    e = Enrichment.__table__
    window_start = as_of - window
    baseline_start = window_start - baseline
    rows = conn.execute(
        select(
            e.c.topic,
            *period_columns(e, e.c.published_at >= window_start, "w"),
            *period_columns(e, e.c.published_at < window_start, "b"),
        )
        .where(e.c.model_version == model_version, e.c.published_at >= baseline_start, e.c.published_at < as_of)
        .group_by(e.c.topic)
    ).all()
    by_topic = {r.topic: r for r in rows}
    sparks = sparklines(conn, model_version, as_of)
    out = [
        _summary(topic, by_topic.get(topic), sparks.get(topic), as_of, window, baseline)
        for topic in set(by_topic) | set(sparks)
    ]
    out.sort(key=lambda t: (-t.window.count, t.topic))
    return out


def quiet_topic(topic: str, as_of: datetime, *, window: timedelta, baseline: timedelta) -> TopicSummary:
    """The summary of a topic without any article in the periods (e.g. one with an alert still open)."""
    return _summary(topic, None, None, as_of, window, baseline)


def _summary(
    topic: str, row: Any, spark: list[SparkPoint] | None, as_of: datetime, window: timedelta, baseline: timedelta
) -> TopicSummary:
    window_start = as_of - window
    w = period_figures(row, "w", window_start, as_of)
    b = period_figures(row, "b", window_start - baseline, window_start)
    return TopicSummary(
        topic=topic,
        window=w,
        baseline=b,
        expected_count=b.count * window / baseline,
        negative_share_change=change(w.negative_share, b.negative_share),
        mean_score_change=change(w.mean_score, b.mean_score),
        sparkline=spark or _empty_spark(as_of),
    )


def sparklines(conn: Connection, model_version: str, as_of: datetime) -> dict[str, list[SparkPoint]]:
    """Negative share per `SPARK_STEP` over the `SPARK_SPAN` before `as_of`, per topic (oldest first)."""
    e = Enrichment.__table__
    start = as_of - SPARK_SPAN
    origin = datetime.fromtimestamp(int(start.timestamp()), start.tzinfo)
    step = int(SPARK_STEP.total_seconds())
    bucket = bucket_key(conn, e.c.published_at, origin, step).label("bucket")
    rows = conn.execute(
        select(e.c.topic, bucket, *period_columns(e, e.c.published_at >= origin, "s"))
        .where(e.c.model_version == model_version, e.c.published_at >= origin, e.c.published_at < as_of)
        .group_by(e.c.topic, bucket)
    ).all()
    counts: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for r in rows:
        counts[r.topic][bucket_number(r.bucket, origin, step)] = (int(r.s_count), int(r.s_negative))
    return {topic: _spark(origin, step, found) for topic, found in counts.items()}


def _spark(origin: datetime, step: int, found: dict[int, tuple[int, int]]) -> list[SparkPoint]:
    points = []
    for i in range(int(SPARK_SPAN.total_seconds()) // step):
        count, negative = found.get(i, (0, 0))
        start = origin + timedelta(seconds=i * step)
        points.append(SparkPoint(start=start, count=count, negative_share=negative / count if count else None))
    return points


def _empty_spark(as_of: datetime) -> list[SparkPoint]:
    start = as_of - SPARK_SPAN
    origin = datetime.fromtimestamp(int(start.timestamp()), start.tzinfo)
    return _spark(origin, int(SPARK_STEP.total_seconds()), {})
