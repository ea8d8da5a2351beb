"""The declared schema: the tables and the keys the writer and the window queries rely on."""

from __future__ import annotations

from sqlalchemy import DateTime, Index, UniqueConstraint

from pipeline.db.models import TABLE_NAMES, TABLES, Enrichment, Entity, WebhookDelivery

EXPECTED = {
    "articles",
    "enrichments",
    "entities",
    "alert_states",
    "alert_events",
    "webhook_deliveries",
    "silences",
    "ingest_seen",
    "alert_progress",
    "model_activations",
    "alert_evidence",
    "watchlists",
    "watchlist_notices",
    "watchlist_revision",
}


def _uniques(table: object) -> set[tuple[str, ...]]:
    return {
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints  # type: ignore[attr-defined]
        if isinstance(constraint, UniqueConstraint)
    }


def test_tables() -> None:
    assert TABLE_NAMES == EXPECTED


def test_every_datetime_is_timezone_aware() -> None:
    for table in TABLES:
        for column in table.columns:
            impl = getattr(column.type, "impl", column.type)
            if isinstance(impl, DateTime):
                assert impl.timezone, f"{table.name}.{column.name} is not timezone-aware"


def test_idempotency_keys() -> None:
    assert ("news_id", "model_version") in _uniques(Enrichment.__table__)
    assert ("enrichment_id", "start_char", "end_char", "label") in _uniques(Entity.__table__)
    assert ("event_id", "receiver") in _uniques(WebhookDelivery.__table__)


def test_window_index_leads_with_model_version_and_topic() -> None:
    indexes = {
        i.name: [c.name for c in i.columns] for i in Enrichment.__table__.indexes if isinstance(i, Index)
    }
    assert indexes["ix_enrichments_window"] == ["model_version", "topic", "published_at"]


def test_constraint_names_fit_postgres_limit() -> None:
    for table in TABLES:
        for item in (*table.constraints, *table.indexes):
            assert item.name is not None and len(str(item.name)) <= 63, item
