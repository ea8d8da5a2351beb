"""`GET /v1/alerts`, `GET /v1/alerts/{id}` (an event id, or an alert's fingerprint: its latest
firing), `GET /v1/rules` and `GET /v1/deliveries` (scope `read`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from alerts.explain import explain
from alerts.read import (
    AlertEventOut,
    DeliveryOut,
    EventFilters,
    SilenceOut,
    alert_labels,
    deliveries,
    events_of_alert,
    evidence,
    find_event,
    list_events,
    silence_out,
)
from alerts.rules import DEFAULT_RULES_PATH, AnyRule, RulesConfig, RulesError, load_rules
from alerts.silences import active_silences
from pipeline.read.cursor import encode_cursor
from pipeline.read.models import ArticleOut
from schemas import utc_now
from workers.http import params
from workers.http.auth import require_scope
from workers.http.context import AppContext, app_context
from workers.http.reading import ERRORS, Cursor, connection

router = APIRouter(tags=["alerts"], dependencies=[Depends(require_scope("read"))], responses=ERRORS)


class AlertsPage(BaseModel):
    items: list[AlertEventOut]
    next_cursor: Cursor | None


class AlertDetail(BaseModel):
    event: AlertEventOut
    explanation: str = Field(description="why it fired, in plain words and figures")
    rule: dict[str, Any] | None = Field(description="the rule as configured now (null: no longer configured)")
    evidence_event_id: str | None = Field(description="the firing event whose recorded articles these are")
    evidence_count: int = Field(description="articles recorded in its window when it fired")
    evidence: list[ArticleOut] = Field(description="the recorded articles, most negative first (at most 200)")
    deliveries: list[DeliveryOut] = Field(description="webhooks of this alert's events")
    history: list[AlertEventOut] = Field(description="this alert's events, newest first")
    silences: list[SilenceOut] = Field(description="active silences that match this alert")


class RulesPage(BaseModel):
    path: str
    rules: list[dict[str, Any]]


class DeliveriesPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: Cursor | None


def rules_config(context: AppContext) -> tuple[str, RulesConfig]:
    """The rules file in force (parsed again only when its modification time changes)."""
    path = Path(context.settings.rules_path or DEFAULT_RULES_PATH)
    try:
        return str(path), _parsed_rules(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise HTTPException(status_code=503, detail=f"the rules file cannot be read: {exc.strerror}") from None
    except RulesError as exc:
        raise HTTPException(status_code=503, detail=f"the rules file is not valid: {exc}") from None


@lru_cache(maxsize=8)
def _parsed_rules(path: str, mtime_ns: int) -> RulesConfig:
    del mtime_ns  # part of the cache key only
    return load_rules(path)


def rule_dict(rule: AnyRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True)


@router.get("/v1/alerts", summary="Alert events newest first (firings and resolutions)")
def alerts(
    state: Literal["firing", "resolved"] | None = Query(None, description="the event's status"),
    firing_now: bool = Query(False, description="only events of alerts firing now"),
    topic: str | None = params.text_query(),
    start: str | None = params.instant_query("emitted at or after (event time)", alias="from"),
    end: str | None = params.instant_query("emitted before (an empty range: no event)", alias="to"),
    backtest: bool = Query(False, description="include events of backtest deliveries"),
    cursor: str | None = params.cursor_query(),
    limit: int = Query(50, ge=1, le=200),
    conn: Connection = Depends(connection),  # noqa: B008
) -> AlertsPage:
    first, stop = params.instant("from", start), params.instant("to", end)
    filters = EventFilters(
        status=state, topic=params.text("topic", topic), start=first, end=stop, firing_now=firing_now,
        include_backtest=backtest,
    )
    items, last = list_events(conn, filters, after=params.cursor(cursor), limit=limit)
    return AlertsPage(items=items, next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/v1/alerts/{alert_id}",
    summary="One alert event: figures, why, the articles recorded when it fired, deliveries",
    responses={404: {"description": "no such event or alert"}},
)
def alert(
    alert_id: str = params.id_path("an alert event's id, or an alert's fingerprint (its latest event)"),
    conn: Connection = Depends(connection),  # noqa: B008
    context: AppContext = Depends(app_context),  # noqa: B008
) -> AlertDetail:
    event = find_event(conn, alert_id)
    if event is None:
        raise HTTPException(status_code=404, detail="no alert event or alert with this id")
    _, config = rules_config(context)
    rule = next((r for r in config.rules if r.name == event.rule), None)
    source, count, articles = evidence(conn, event)
    history = events_of_alert(conn, event.fingerprint)
    sent, _ = deliveries(conn, event_ids=[e.event_id for e in history], limit=200)
    now = utc_now()
    labels = alert_labels(event)
    return AlertDetail(
        event=event,
        explanation=explain(
            kind=event.kind or (rule.kind if rule else None),
            topic=event.topic,
            status=event.status,
            figures=event.figures,
            window_start=event.window_start,
            window_end=event.window_end,
            labels=event.labels,
            rule=rule,
        ),
        rule=rule_dict(rule) if rule else None,
        evidence_event_id=source,
        evidence_count=count,
        evidence=articles,
        deliveries=sent,
        history=history,
        silences=[silence_out(s, now) for s in active_silences(conn, now) if s.matches(labels)],
    )


@router.get("/v1/rules", summary="The alert rules in force")
def rules(context: AppContext = Depends(app_context)) -> RulesPage:  # noqa: B008
    path, config = rules_config(context)
    return RulesPage(path=path, rules=[rule_dict(r) for r in config.rules])


@router.get("/v1/deliveries", summary="Webhook deliveries newest first, with their status")
def list_deliveries(
    status: Literal["pending", "delivered", "failed"] | None = Query(None),
    receiver: str | None = params.name_query("the receiver's name", max_length=100),
    cursor: str | None = params.cursor_query(),
    limit: int = Query(50, ge=1, le=200),
    conn: Connection = Depends(connection),  # noqa: B008
) -> DeliveriesPage:
    items, last = deliveries(conn, status=status, receiver=receiver, after=params.cursor(cursor), limit=limit)
    return DeliveriesPage(items=items, next_cursor=encode_cursor(last) if last else None)
