"""Webhook bodies of watchlist notices: `watchlist.match` (an article) and `watchlist.alert` (an
alert firing or resolution on a watched topic or ticker), as JSON or Slack (text + blocks).

Rendered once, stored in the outbox and signed byte for byte on every attempt, like alert
bodies (`alerts.payloads.render`). Every text from the data is escaped in Slack markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.payloads import render, slack_escape
from alerts.watchlists.matcher import Hit
from alerts.watchlists.model import Watchlist
from alerts.watchlists.sentiment import headline_sentiment
from schemas import AlertEvent, EnrichedNews

MATCH = "watchlist.match"
ALERT = "watchlist.alert"


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What the database holds about an article beyond `news.enriched` (None: not stored)."""

    title: str
    url: str | None
    source: str


def _watchlist(w: Watchlist) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "owner": w.owner, "condition": w.condition.describe()}


def match_payload(
    *,
    notice_id: str,
    watchlist: Watchlist,
    item: EnrichedNews,
    article: ArticleText | None,
    hits: Sequence[Hit],
    public_url: str,
    now: datetime,
) -> dict[str, Any]:
    """The JSON body of a `watchlist.match` notice."""
    return {
        "type": MATCH,
        "notice_id": notice_id,
        "watchlist": _watchlist(watchlist),
        "article": {
            "news_id": item.news_id,
            "title": article.title if article else None,
            "url": article.url if article else None,
            "source": article.source if article else None,
            "published_at": item.published_at.isoformat(),
            "topic": item.topic,
            "topic_score": round(item.topic_score, 4),
            "sentiment": headline_sentiment(item).as_dict(),
        },
        "model_version": item.model_version,
        "hits": [h.as_dict() for h in hits],
        "emitted_at": now.isoformat(),
        "link": f"{public_url.rstrip('/')}/v1/articles/{item.news_id}",
    }


def alert_payload(
    *,
    notice_id: str,
    watchlist: Watchlist,
    event: AlertEvent,
    hits: Sequence[Hit],
    public_url: str,
    now: datetime,
) -> dict[str, Any]:
    """The JSON body of a `watchlist.alert` notice."""
    return {
        "type": ALERT,
        "notice_id": notice_id,
        "watchlist": _watchlist(watchlist),
        "alert": {
            "status": event.status,
            "fingerprint": event.fingerprint,
            "rule": event.rule,
            "topic": event.topic,
            "labels": dict(event.labels),
            "severity": event.severity,
            "window": {"start": event.window.start.isoformat(), "end": event.window.end.isoformat()},
            "started_at": event.started_at.isoformat(),
            "ended_at": event.ended_at.isoformat() if event.ended_at else None,
            "emitted_at": event.emitted_at.isoformat(),
            "figures": dict(event.figures),
        },
        "model_version": event.model_version,
        "hits": [h.as_dict() for h in hits],
        "emitted_at": now.isoformat(),
        "link": f"{public_url.rstrip('/')}/alerts/{event.fingerprint}",
    }


def _link(url: str, label: str) -> str:
    """`<url|label>` with both escaped (and `|`, which would end the URL, percent-encoded)."""
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"


def _hits_line(hits: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for h in hits:
        what = f"{h['on']} {h['mention'] or h['key']}"
        if h.get("relevance") == "title":
            what += " (title)"
        if h.get("sentiment_of") in ("entity", "sentence"):
            of = ", its sentence" if h["sentiment_of"] == "sentence" else ""
            what += f" [{h['sentiment']['label']} {h['sentiment']['score']:+.2f}{of}]"
        parts.append(slack_escape(what))
    return "Matched: " + ", ".join(parts)


def slack_notice(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body of a notice payload (header verbatim, mrkdwn escaped)."""
    name = payload["watchlist"]["name"]
    blocks: list[dict[str, Any]] = []
    if payload["type"] == MATCH:
        a = payload["article"]
        s = a["sentiment"]
        title = a["title"] or a["news_id"]
        header = f":eyes: [WATCHLIST] {name}: {s['label']} ({s['score']:+.2f})"
        headline = _link(a["url"], title) if a.get("url") else slack_escape(title)
        facts = f"{headline}\n{slack_escape(a['topic'])} · {slack_escape(a['source'] or '')} · {slack_escape(a['published_at'])}"
        text = f"[WATCHLIST] {slack_escape(name)}: {slack_escape(title)}"
    else:
        alert = payload["alert"]
        icon = ":rotating_light:" if alert["status"] == "firing" else ":white_check_mark:"
        header = f"{icon} [WATCHLIST] {name}: alert {alert['status']} on {alert['topic']}"
        facts = f"rule *{slack_escape(alert['rule'])}* on {slack_escape(alert['topic'])}" + (
            f" ({slack_escape(alert['labels']['ticker'])})" if alert["labels"].get("ticker") else ""
        )
        text = f"[WATCHLIST] {slack_escape(name)}: alert {alert['status']} on {slack_escape(alert['topic'])}"
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": facts[:3000]}})
    context = [_hits_line(payload["hits"]), _link(payload["link"], "Open in finsent")]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": c[:3000]} for c in context]})
    return {"text": text, "blocks": blocks}


def render_notice(fmt: str, payload: Mapping[str, Any]) -> str:
    """The exact body stored and signed for a receiver of format `fmt` (json | slack)."""
    return render(slack_notice(payload) if fmt == "slack" else payload)
