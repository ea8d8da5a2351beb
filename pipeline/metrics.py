"""Prometheus metrics of the model worker (one `CollectorRegistry` per worker, never the global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400)


@dataclass(frozen=True)
class ModelWorkerMetrics:
    registry: CollectorRegistry
    consumed: Counter
    stored: Counter
    produced: Counter
    deduplicated: Counter
    dlq: Counter
    store_retries: Counter
    kafka_retries: Counter
    batch_size: Histogram
    inference_seconds: Histogram
    since_published: Histogram
    since_ingested: Histogram
    lag: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ModelWorkerMetrics:
        reg = registry or CollectorRegistry()
        return cls(
            registry=reg,
            consumed=Counter("finsent_model_consumed", "Records consumed from news.raw", registry=reg),
            stored=Counter("finsent_model_stored", "New enrichments stored", registry=reg),
            produced=Counter("finsent_model_produced", "EnrichedNews produced", registry=reg),
            deduplicated=Counter("finsent_model_deduplicated", "Items already stored or repeated", registry=reg),
            dlq=Counter("finsent_model_dlq", "Dead letters published", ["stage"], registry=reg),
            store_retries=Counter("finsent_model_store_retries", "Failed store attempts retried", registry=reg),
            kafka_retries=Counter(
                "finsent_model_kafka_retries", "Failed emits / commits retried", ["action"], registry=reg
            ),
            batch_size=Histogram(
                "finsent_model_batch_size", "Items per batch", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=reg
            ),
            inference_seconds=Histogram(
                "finsent_model_inference_seconds", "Predict + store seconds per batch", registry=reg
            ),
            since_published=Histogram(
                "finsent_e2e_since_published_seconds", "stored_at - published_at", buckets=_LATENCY_BUCKETS, registry=reg
            ),
            since_ingested=Histogram(
                "finsent_e2e_since_ingested_seconds", "stored_at - ingested_at", buckets=_LATENCY_BUCKETS, registry=reg
            ),
            lag=Gauge("finsent_model_consumer_lag", "Records behind the end of news.raw", ["partition"], registry=reg),
        )
