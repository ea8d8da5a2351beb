"""Webhook bodies: the JSON payload, and a Slack-compatible variant (text + blocks).

The body is rendered once, stored in the outbox and signed byte-for-byte on every attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, desc, func, select

from pipeline.db.models import Article, Enrichment, Entity
from schemas import AlertEvent

SIGNIFICANCE_TESTS: Mapping[str, str] = {
    "negative_spike": "two-proportion z-test (pooled, continuity-corrected), one-sided",
    "volume_spike": "Poisson z-test against the baseline rate, one-sided",
    "sentiment_drop": "Welch z-test of the mean sentiment score, one-sided",
}


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    url: str | None
    source: str
    published_at: str
    p_negative: float
    sentiment_score: float


@dataclass(frozen=True, slots=True)
class EntityCount:
    text: str
    label: str
    ticker: str | None
    articles: int


def fetch_details(
    conn: Connection,
    *,
    model_version: str,
    topic: str,
    start: datetime,
    end: datetime,
    ticker: str | None = None,
    limit: int = 5,
) -> tuple[list[Headline], list[EntityCount]]:
    """The most negative headlines of the window and the entities most involved in it."""
    where = [
        Enrichment.model_version == model_version,
        Enrichment.topic == topic,
        Enrichment.published_at >= start,
        Enrichment.published_at < end,
    ]
    if ticker is not None:
        tagged = select(Entity.enrichment_id).where(Entity.ticker == ticker)
        where.append(Enrichment.id.in_(tagged))
    rows = conn.execute(
        select(
            Article.title,
            Article.url,
            Article.source,
            Article.published_at,
            Enrichment.p_negative,
            Enrichment.sentiment_score,
        )
        .join(Article, Article.id == Enrichment.news_id)
        .where(*where, Enrichment.sentiment == "negative")
        .order_by(desc(Enrichment.p_negative), Article.published_at, Article.id)
        .limit(limit)
    )
    headlines = [
        Headline(
            r.title,
            r.url,
            r.source,
            r.published_at.isoformat(),
            round(r.p_negative, 4),
            round(r.sentiment_score, 4),
        )
        for r in rows
    ]
    articles = func.count(func.distinct(Entity.enrichment_id))
    entity_rows = conn.execute(
        select(Entity.text, Entity.label, Entity.ticker, articles.label("n"))
        .join(Enrichment, Enrichment.id == Entity.enrichment_id)
        .where(*where)
        .group_by(Entity.text, Entity.label, Entity.ticker)
        .order_by(desc("n"), Entity.text)
        .limit(limit)
    )
    entities = [EntityCount(r.text, r.label, r.ticker, int(r.n)) for r in entity_rows]
    return headlines, entities


def build_payload(
    event: AlertEvent,
    *,
    event_id: str,
    kind: str,
    reason: str,
    headlines: Sequence[Headline],
    entities: Sequence[EntityCount],
    public_url: str,
    model_version: str,
) -> dict[str, Any]:
    """The JSON webhook payload of one alert event."""
    f = event.figures
    return {
        "type": f"alert.{event.status}",
        "event_id": event_id,
        "status": event.status,
        "reason": reason,
        "fingerprint": event.fingerprint,
        "rule": event.rule,
        "kind": kind,
        "severity": event.severity,
        "topic": event.topic,
        "labels": dict(event.labels),
        "model_version": model_version,
        "window": {"start": event.window.start.isoformat(), "end": event.window.end.isoformat()},
        "counts": {
            "articles": int(f.get("count", 0)),
            "negative": int(f.get("negative", 0)),
            "baseline_articles": int(f.get("baseline_count", 0)),
            "baseline_negative": int(f.get("baseline_negative", 0)),
        },
        "negative_share": f.get("negative_share"),
        "mean_score": f.get("mean_score"),
        "baseline": {
            "negative_share": f.get("baseline_negative_share"),
            "mean_score": f.get("baseline_mean_score"),
            "expected_count": f.get("expected_count"),
        },
        "significance": {
            "test": SIGNIFICANCE_TESTS.get(kind, kind),
            "z": f.get("z"),
            "p_value": f.get("p_value"),
        },
        "figures": dict(f),
        "headlines": [asdict(h) for h in headlines],
        "entities": [asdict(e) for e in entities],
        "started_at": event.started_at.isoformat(),
        "ended_at": event.ended_at.isoformat() if event.ended_at else None,
        "emitted_at": event.emitted_at.isoformat(),
        "link": f"{public_url.rstrip('/')}/alerts/{event.fingerprint}",
    }


def slack_escape(text: object) -> str:
    """Text safe inside Slack `mrkdwn`: `&`, `<` and `>` become entities, so a headline holding
    `<!channel>` or `<https://evil|click>` shows as typed and never pings or links."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(url: str) -> str:
    """A URL inside `<url|label>`: escaped, and `|` (which would end it) percent-encoded."""
    return slack_escape(url).replace("|", "%7C")


def slack_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body (`text` fallback + Block Kit `blocks`) of a JSON payload.

    Every text from the data (headlines, topics, entity names, rule names) is escaped
    (`slack_escape`) wherever Slack parses markup: `text` and every `mrkdwn` element; the header
    is `plain_text`, which Slack shows verbatim.
    """
    firing = payload["status"] == "firing"
    icon = ":rotating_light:" if firing else ":white_check_mark:"
    plain_title = f"{icon} [{payload['status'].upper()}] {payload['rule']}: {payload['topic']}"
    title = f"{icon} [{payload['status'].upper()}] {slack_escape(payload['rule'])}: {slack_escape(payload['topic'])}"
    counts = payload["counts"]
    share = payload.get("negative_share")
    base = payload["baseline"].get("negative_share")
    z = payload["significance"].get("z")
    facts = (
        f"*{counts['negative']}/{counts['articles']}* negative"
        + (f" ({share:.0%})" if share is not None else "")
        + (f" vs baseline {base:.0%}" if base is not None else "")
        + (f", z = {z:.1f}" if z is not None else "")
        + f"\nwindow {slack_escape(payload['window']['start'])} to {slack_escape(payload['window']['end'])}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": plain_title[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
    ]
    if payload["headlines"]:
        lines = [
            f"• <{_slack_url(h['url'])}|{slack_escape(h['title'])}>" if h.get("url") else f"• {slack_escape(h['title'])}"
            for h in payload["headlines"]
        ]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    if payload["entities"]:
        names = ", ".join(slack_escape(e["ticker"] or e["text"]) for e in payload["entities"])
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Entities: {names}"}]})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{_slack_url(payload['link'])}|Open in finsent>"}]}
    )
    return {"text": title, "blocks": blocks}


def render(body: Mapping[str, Any]) -> str:
    """The exact JSON text that is stored, signed and sent."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)


def render_for(fmt: str, payload: Mapping[str, Any]) -> str:
    return render(slack_payload(payload) if fmt == "slack" else payload)
