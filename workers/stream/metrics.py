"""Prometheus metrics of the stream worker (its own `CollectorRegistry`)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class StreamMetrics:
    registry: CollectorRegistry
    consumed: Counter
    matched: Counter
    notices: Counter
    skipped: Counter
    dlq: Counter
    retries: Counter
    item_seconds: Histogram
    notice_latency: Histogram
    watchlists: Gauge
    revision: Gauge
    webhooks: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> StreamMetrics:
        reg = registry or CollectorRegistry()
        return cls(
            registry=reg,
            consumed=Counter("finsent_stream_consumed", "Records consumed", ["topic"], registry=reg),
            matched=Counter("finsent_stream_matched", "Watchlists an item matched", ["kind"], registry=reg),
            notices=Counter(
                "finsent_stream_notices", "Notices by outcome", ["status", "reason"], registry=reg
            ),
            skipped=Counter("finsent_stream_skipped", "Items not matched at all, by why", ["reason"], registry=reg),
            dlq=Counter("finsent_stream_dlq", "Dead letters published", ["stage"], registry=reg),
            retries=Counter("finsent_stream_retries", "Failed attempts at an item, retried", registry=reg),
            item_seconds=Histogram(
                "finsent_stream_item_seconds",
                "Seconds to match and record one item",
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
                registry=reg,
            ),
            notice_latency=Histogram(
                "finsent_stream_notice_latency_seconds",
                "Record timestamp (append to the topic) to notice queued in the outbox",
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            watchlists=Gauge("finsent_stream_watchlists", "Active watchlists in the index", registry=reg),
            revision=Gauge("finsent_stream_watchlist_revision", "Watchlist revision of the index", registry=reg),
            webhooks=Counter("finsent_stream_webhooks", "Webhook attempts by result", ["result"], registry=reg),
        )
