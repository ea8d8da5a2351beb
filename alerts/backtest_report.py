"""A backtest's output: `alerts.json` (run parameters, then every firing and resolution) and
`alerts.csv` (one row per event, figures as `figure_*` columns). Sorted keys and no wall-clock
time: the same inputs give byte-identical files."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from alerts.backtest import BacktestResult
from alerts.planner import EmittedEvent


def event_record(e: EmittedEvent) -> dict[str, Any]:
    ev = e.event
    return {
        "event_id": e.event_id,
        "fingerprint": ev.fingerprint,
        "rule": ev.rule,
        "kind": e.kind,
        "reason": e.reason.value,
        "status": ev.status,
        "topic": ev.topic,
        "labels": dict(ev.labels),
        "severity": ev.severity,
        "window_start": ev.window.start.isoformat(),
        "window_end": ev.window.end.isoformat(),
        "started_at": ev.started_at.isoformat(),
        "ended_at": ev.ended_at.isoformat() if ev.ended_at else None,
        "emitted_at": ev.emitted_at.isoformat(),
        "figures": {k: ev.figures[k] for k in sorted(ev.figures)},
        "model_version": e.model_version,
        "backtest": True,
    }


def to_json(result: BacktestResult) -> str:
    document = {
        "backtest": {
            "model_version": result.model_version,
            "from": result.start.isoformat(),
            "to": result.end.isoformat(),
            "step_s": result.step.total_seconds(),
            "ticks": result.ticks,
            "evaluated_ticks": result.evaluated,
            "rules": list(result.rules),
            "rules_sha256": result.rules_sha256,
            "topics": list(result.topics),
            "firing": sum(e.event.status == "firing" for e in result.events),
            "resolved": sum(e.event.status == "resolved" for e in result.events),
        },
        "alerts": [event_record(e) for e in result.events],
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "emitted_at", "status", "rule", "topic", "ticker", "severity", "window_start", "window_end",
    "started_at", "ended_at", "reason", "event_id", "fingerprint", "model_version",
)


def to_csv(result: BacktestResult) -> str:
    """One row per event; the figures as `figure_<name>` columns (the union over events, sorted)."""
    names = sorted({k for e in result.events for k in e.event.figures})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(f"figure_{n}" for n in names)])
    for e in result.events:
        r = event_record(e)
        r["ticker"] = r["labels"].get("ticker", "")
        writer.writerow(
            [("" if r[c] is None else r[c]) for c in CSV_COLUMNS]
            + [repr(e.event.figures[n]) if n in e.event.figures else "" for n in names]
        )
    return out.getvalue()
