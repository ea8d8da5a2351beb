"""Webhook payload shape and the Slack variant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts.payloads import EntityCount, Headline, build_payload, render, render_for, slack_payload
from schemas import AlertEvent, AlertWindow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def payload() -> dict[str, object]:
    event = AlertEvent(
        fingerprint="0123456789abcdef0123456789abcdef",
        rule="negative-spike",
        topic="Energy | Oil",
        status="firing",
        window=AlertWindow(start=NOW - timedelta(minutes=15), end=NOW),
        figures={
            "count": 12.0,
            "negative": 9.0,
            "negative_share": 0.75,
            "baseline_count": 3000.0,
            "baseline_negative": 600.0,
            "baseline_negative_share": 0.2,
            "z": 4.4,
            "p_value": 5e-6,
        },
        labels={"topic": "Energy | Oil", "team": "research"},
        started_at=NOW,
        emitted_at=NOW,
    )
    return build_payload(
        event,
        event_id="e-1",
        kind="negative_spike",
        reason="first_firing",
        headlines=[
            Headline("Oil major halts output", "https://n.example/1", "wire", NOW.isoformat(), 0.93, -0.9)
        ],
        entities=[EntityCount("Northwind", "ORG", "NWE", 4)],
        public_url="https://finsent.example/",
        model_version="m1",
    )


def test_payload_shape() -> None:
    p = payload()
    assert p["status"] == "firing" and p["type"] == "alert.firing"
    assert p["counts"] == {"articles": 12, "negative": 9, "baseline_articles": 3000, "baseline_negative": 600}
    assert p["negative_share"] == 0.75 and p["baseline"]["negative_share"] == 0.2  # type: ignore[index]
    assert p["significance"]["z"] == 4.4 and "two-proportion" in p["significance"]["test"]  # type: ignore[index]
    assert p["headlines"][0]["url"] == "https://n.example/1"  # type: ignore[index]
    assert p["entities"][0]["ticker"] == "NWE"  # type: ignore[index]
    assert p["link"] == "https://finsent.example/alerts/0123456789abcdef0123456789abcdef"
    assert p["window"] == {"start": "2026-03-02T11:45:00+00:00", "end": "2026-03-02T12:00:00+00:00"}
    assert json.loads(render(p)) == json.loads(json.dumps(p))
    assert render(p) == render(dict(reversed(list(p.items()))))  # stable bytes to sign


def test_slack_variant() -> None:
    body = json.loads(render_for("slack", payload()))
    assert body["text"].startswith(":rotating_light: [FIRING] negative-spike: Energy | Oil")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    text = json.dumps(body["blocks"])
    assert "<https://n.example/1|Oil major halts output>" in text and "9/12" in text and "NWE" in text
    assert slack_payload(payload())["blocks"][-1]["elements"][0]["text"].startswith(
        "<https://finsent.example/alerts/"
    )


def test_slack_escapes_markup_from_the_data() -> None:
    """A headline holding `<!channel>` or a fake link shows as typed: it never pings or links."""
    body = payload()
    body["topic"] = "M&A <!here>"
    body["headlines"] = [
        {"title": "<!channel> Acme & Co <https://evil.example|click>", "url": "https://news.example/a|b>c",
         "source": "wire", "published_at": NOW.isoformat(), "p_negative": 0.9, "sentiment_score": -0.8},
        {"title": "no link <@U123>", "url": None, "source": "wire", "published_at": NOW.isoformat(),
         "p_negative": 0.9, "sentiment_score": -0.8},
    ]
    body["entities"] = [{"text": "<!everyone>", "label": "ORG", "ticker": None, "articles": 2}]
    slack = slack_payload(body)
    parsed = [slack["text"]] + [
        element["text"]
        for block in slack["blocks"]
        for element in ([block["text"]] if "text" in block else block["elements"])
        if element["type"] == "mrkdwn"
    ]
    text = "\n".join(parsed)
    for markup in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://evil.example|click>"):
        assert markup not in text
    assert "&lt;!channel&gt; Acme &amp; Co &lt;https://evil.example|click&gt;" in text
    assert "<https://news.example/a%7Cb&gt;c|" in text  # the real link stays one link
    assert slack["blocks"][0]["text"]["type"] == "plain_text"  # shown verbatim by Slack
