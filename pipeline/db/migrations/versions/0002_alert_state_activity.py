"""Alert states remember when the condition last held and what was last notified; an index for
the rules' all-topic window queries.

`last_active_at` drives `keep_firing_for`; `notified_status` is the dedup log (resolved is sent
once, and only for a firing that was sent). `ix_enrichments_model_version_published_at` serves
`WHERE model_version = ? AND published_at` ranges over every topic (rules with `topics: ["*"]`),
which `ix_enrichments_window` (model_version, topic, published_at) cannot range-scan.
`alert_events.published_at` marks events that reached Kafka, so a failed publish is retried.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.add_column(sa.Column("last_active_at", TS, nullable=True, comment="condition last held"))
        batch.add_column(
            sa.Column("notified_status", sa.String(16), nullable=True, comment="what was last notified")
        )
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(
            sa.Column("published_at", TS, nullable=True, comment="when it reached alerts.events")
        )
    op.create_index(
        "ix_enrichments_model_version_published_at", "enrichments", ["model_version", "published_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_enrichments_model_version_published_at", table_name="enrichments")
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_column("published_at")
    with op.batch_alter_table("alert_states") as batch:
        batch.drop_column("notified_status")
        batch.drop_column("last_active_at")
