"""Prometheus metrics of the alerts worker (its own `CollectorRegistry`)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class AlertsMetrics:
    registry: CollectorRegistry
    evaluations: Counter
    evaluation_errors: Counter
    evaluation_seconds: Histogram
    events: Counter
    silenced: Counter
    webhooks: Counter
    outbox: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> AlertsMetrics:
        reg = registry or CollectorRegistry()
        return cls(
            registry=reg,
            evaluations=Counter("finsent_alerts_evaluations", "Evaluation ticks run", registry=reg),
            evaluation_errors=Counter(
                "finsent_alerts_evaluation_errors", "Evaluation ticks failed", registry=reg
            ),
            evaluation_seconds=Histogram(
                "finsent_alerts_evaluation_seconds",
                "Seconds per evaluation tick",
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                registry=reg,
            ),
            events=Counter("finsent_alerts_events", "Alert events emitted", ["status"], registry=reg),
            silenced=Counter("finsent_alerts_silenced", "Notifications muted by silences", registry=reg),
            webhooks=Counter(
                "finsent_alerts_webhooks", "Webhook attempts by result", ["result"], registry=reg
            ),
            outbox=Gauge("finsent_alerts_outbox", "Outbox rows by status", ["status"], registry=reg),
        )
