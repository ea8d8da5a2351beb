"""The analysts' surface: alert evidence, and full-text search of articles on Postgres.

- `alert_evidence`: the articles (enrichment ids) that made a firing event's window, recorded in
  the transaction that stores the event, so the evidence shown later does not change when late
  articles arrive.
- `ix_articles_fts` (Postgres only): a GIN index on the English text-search vector of an
  article's title and body, used by `GET /v1/articles?q=` (`pipeline.read.search`). SQLite has
  no such index and falls back to LIKE.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FTS_INDEX = "ix_articles_fts"
TICKERS_INDEX = "ix_articles_tickers"
COVERING = (
    ("ix_enrichments_window", ["model_version", "topic", "published_at"], ["sentiment", "sentiment_score"]),
    (
        "ix_enrichments_model_version_published_at",
        ["model_version", "published_at"],
        ["topic", "sentiment", "sentiment_score"],
    ),
)
FTS_VECTOR = "to_tsvector('english', title || ' ' || body)"
"""Must equal `pipeline.read.search.FTS_VECTOR` character for character, or the index is not used."""


def upgrade() -> None:
    op.create_table(
        "alert_evidence",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("enrichment_id", BIGID, nullable=False),
        sa.Column("news_id", sa.String(64), nullable=False, comment="the enrichment's article"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.event_id"],
            name="fk_alert_evidence_event_id_alert_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrichment_id"],
            ["enrichments.id"],
            name="fk_alert_evidence_enrichment_id_enrichments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "enrichment_id", name="pk_alert_evidence"),
    )
    op.create_index("ix_alert_evidence_enrichment_id", "alert_evidence", ["enrichment_id"])
    if op.get_bind().dialect.name == "postgresql":
        for name, columns, include in COVERING:
            op.drop_index(name, table_name="enrichments")
            op.create_index(name, "enrichments", columns, postgresql_include=include)
        op.execute(f"CREATE INDEX {FTS_INDEX} ON articles USING gin ({FTS_VECTOR})")
        op.execute(f"CREATE INDEX {TICKERS_INDEX} ON articles USING gin (tickers jsonb_path_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TICKERS_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {FTS_INDEX}")
        for name, columns, _ in COVERING:
            op.drop_index(name, table_name="enrichments")
            op.create_index(name, "enrichments", columns)
    op.drop_index("ix_alert_evidence_enrichment_id", table_name="alert_evidence")
    op.drop_table("alert_evidence")
