"""Initial schema: articles, enrichments, entities, alert state and events, outbox, silences.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in pipeline.db.types: a migration must not change when models do.
TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _now() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("url", sa.String(4000), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("tickers", JSON, nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
        sa.Column("stored_at", TS, server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
    )
    op.create_index("ix_articles_published_at", "articles", ["published_at"])

    op.create_table(
        "enrichments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("news_id", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("published_at", TS, nullable=False, comment="copied from the article"),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("topic_score", sa.Float(), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("p_negative", sa.Float(), nullable=False),
        sa.Column("p_neutral", sa.Float(), nullable=False),
        sa.Column("p_positive", sa.Float(), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("processed_at", TS, nullable=False),
        sa.Column("stored_at", TS, server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrichments"),
        sa.ForeignKeyConstraint(
            ["news_id"], ["articles.id"], name="fk_enrichments_news_id_articles", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("news_id", "model_version", name="uq_enrichments_news_id_model_version"),
        sa.CheckConstraint(
            "sentiment IN ('negative', 'neutral', 'positive')", name="ck_enrichments_sentiment"
        ),
    )
    op.create_index("ix_enrichments_window", "enrichments", ["model_version", "topic", "published_at"])

    op.create_table(
        "entities",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("enrichment_id", BIGID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("end_char", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("ticker", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_entities"),
        sa.ForeignKeyConstraint(
            ["enrichment_id"],
            ["enrichments.id"],
            name="fk_entities_enrichment_id_enrichments",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "enrichment_id",
            "start_char",
            "end_char",
            "label",
            name="uq_entities_enrichment_id_start_char_end_char_label",
        ),
        sa.CheckConstraint("end_char >= start_char", name="ck_entities_span"),
    )
    op.create_index("ix_entities_ticker", "entities", ["ticker"])

    op.create_table(
        "alert_states",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pending_since", TS, nullable=True),
        sa.Column("active_since", TS, nullable=True),
        sa.Column("last_evaluated_at", TS, nullable=True),
        sa.Column("last_notified_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("consecutive_hits", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_figures", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_alert_states"),
        sa.CheckConstraint(
            "status IN ('inactive', 'pending', 'firing', 'resolved')", name="ck_alert_states_status"
        ),
    )
    op.create_index("ix_alert_states_status", "alert_states", ["status"])

    op.create_table(
        "alert_events",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("emitted_at", TS, nullable=False),
        sa.Column("backtest", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
        sa.UniqueConstraint("event_id", name="uq_alert_events_event_id"),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name="ck_alert_events_status"),
    )
    op.create_index("ix_alert_events_fingerprint_emitted_at", "alert_events", ["fingerprint", "emitted_at"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False, comment="msg_... (webhook-id header)"),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("receiver", sa.String(100), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="the exact JSON body that gets signed"),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TS, server_default=_now(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, server_default=_now(), nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.event_id"],
            name="fk_webhook_deliveries_event_id_alert_events",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("webhook_id", name="uq_webhook_deliveries_webhook_id"),
        sa.UniqueConstraint("event_id", "receiver", name="uq_webhook_deliveries_event_id_receiver"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at", "webhook_deliveries", ["status", "next_attempt_at"]
    )

    op.create_table(
        "silences",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("matchers", JSON, nullable=False, comment="topic / rule / labels to match"),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_silences_period"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])


def downgrade() -> None:
    for table in (
        "silences",
        "webhook_deliveries",
        "alert_events",
        "alert_states",
        "entities",
        "enrichments",
        "articles",
    ):
        op.drop_table(table)
