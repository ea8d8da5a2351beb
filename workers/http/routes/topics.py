"""`GET /v1/topics` (every topic now, with its alert state) and `GET /v1/topics/{topic}/timeline`
(scope `read`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import Field
from sqlalchemy import Connection, select

from alerts.read import AlertEventOut, AlertStateOut, EventFilters, active_states, list_events
from pipeline.db.models import Enrichment
from pipeline.read.models import TimelineBucket, TopicSummary
from pipeline.read.scope import ReadScope
from pipeline.read.timeline import BUCKETS, MAX_BUCKETS, topic_timeline
from pipeline.read.topics import quiet_topic, topic_summaries
from workers.http import params
from workers.http.auth import require_scope
from workers.http.reading import ERRORS, ReadMeta, connection, meta, read_scope

router = APIRouter(tags=["read"], dependencies=[Depends(require_scope("read"))], responses=ERRORS)

DEFAULT_RANGE = {"5m": timedelta(hours=12), "1h": timedelta(days=7), "1d": timedelta(days=90)}
MAX_TIMELINE_ALERTS = 500
MINUTE, WINDOW_HIGH, BASELINE_HIGH = timedelta(minutes=1), timedelta(days=30), timedelta(days=90)


class TopicOut(TopicSummary):
    alerts: list[AlertStateOut] = Field(description="alerts pending or firing on this topic now")


class TopicsPage(ReadMeta):
    window: str
    baseline: str
    topics: list[TopicOut]


class Timeline(ReadMeta):
    topic: str
    bucket: str
    start: datetime
    end: datetime
    buckets: list[TimelineBucket]
    alerts: list[AlertEventOut] = Field(description="alert events on this topic emitted in the range")


@router.get("/v1/topics", summary="Every topic now: window vs baseline, sparkline, alert state")
def topics(
    window: str = params.duration_query("1h", "the window, e.g. 15m, 1h, 24h", low=MINUTE, high=WINDOW_HIGH),
    baseline: str = params.duration_query(
        "24h", "the baseline period before the window, e.g. 24h, 7d", low=MINUTE, high=BASELINE_HIGH
    ),
    scope: ReadScope = Depends(read_scope),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> TopicsPage:
    w = params.duration("window", window, low=MINUTE, high=WINDOW_HIGH)
    b = params.duration("baseline", baseline, low=MINUTE, high=BASELINE_HIGH)
    summaries = (
        topic_summaries(conn, scope.model_version, scope.as_of, window=w, baseline=b) if scope.model_version else []
    )
    states = active_states(conn)
    known = {s.topic for s in summaries}
    quiet = sorted({a.topic for a in states} - known)  # an open alert on a topic gone quiet still shows
    summaries += [quiet_topic(t, scope.as_of, window=w, baseline=b) for t in quiet]
    out = [TopicOut(**s.model_dump(), alerts=[a for a in states if a.topic == s.topic]) for s in summaries]
    return TopicsPage(**meta(scope).model_dump(), window=window, baseline=baseline, topics=out)


@router.get(
    "/v1/topics/{topic}/timeline",
    summary="One topic per time bucket: counts by sentiment, mean score, alert events",
    responses={404: {"description": "no article on this topic under the model version"}},
)
def timeline(
    topic: str = Path(min_length=1, max_length=params.MAX_TEXT, pattern=params.TEXT_PATTERN),
    bucket: Literal["5m", "1h", "1d"] = Query("1h", description="bucket size"),
    start: str | None = params.instant_query(
        f"default: `to` minus 12 h, 7 d or 90 d; at most {MAX_BUCKETS} buckets: a longer range is cut to the "
        "latest ones (`start` says where the answer begins)",
        alias="from",
    ),
    end: str | None = params.instant_query("exclusive (default: as_of; an empty range: no bucket)", alias="to"),
    scope: ReadScope = Depends(read_scope),  # noqa: B008
    conn: Connection = Depends(connection),  # noqa: B008
) -> Timeline:
    name = params.text("topic", topic) or ""
    size = BUCKETS[bucket]
    stop = params.instant("to", end) or scope.as_of
    first = params.instant("from", start) or stop - DEFAULT_RANGE[bucket]
    first = max(first, stop - (MAX_BUCKETS - 1) * size)  # the latest MAX_BUCKETS buckets at most
    e = Enrichment.__table__
    version = scope.model_version
    if version is None or conn.scalar(select(e.c.id).where(e.c.model_version == version, e.c.topic == name).limit(1)) is None:
        raise HTTPException(status_code=404, detail=f"no article on topic {name!r} under model version {version!r}")
    buckets = topic_timeline(conn, version, name, first, stop, size) if first < stop else []
    events, _ = list_events(conn, EventFilters(topic=name, start=first, end=stop), limit=MAX_TIMELINE_ALERTS)
    return Timeline(
        **meta(scope).model_dump(),
        topic=name,
        bucket=bucket,
        start=buckets[0].start if buckets else first,
        end=buckets[-1].start + size if buckets else stop,
        buckets=buckets,
        alerts=events,
    )
