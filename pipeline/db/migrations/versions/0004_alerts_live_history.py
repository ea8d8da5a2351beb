"""Alerts: explicit model version, progress for catch-up, orphan resolution, dispatcher leases.

- `alert_states.model_version` (part of the fingerprint), `rule_kind`, `severity`, `receivers`,
  `rule_labels`: what resolving an orphaned firing needs once its rule is gone.
- `alert_events.model_version`: the version an event's rule evaluated.
- `webhook_deliveries.lease_token`: the dispatcher claim that holds a row; a dispatcher whose
  lease was taken over neither sends nor records the row.
- `alert_progress`: the last tick an evaluator stored (catch-up after downtime).
- `model_activations`: `finsent model activate V`, the version live alerts evaluate (latest row).

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.add_column(sa.Column("model_version", sa.String(100), nullable=True, comment="model version evaluated"))
        batch.add_column(sa.Column("rule_kind", sa.String(32), nullable=True))
        batch.add_column(sa.Column("severity", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("receivers", JSON, nullable=True, comment="of the rule, for orphan resolutions")
        )
        batch.add_column(sa.Column("rule_labels", JSON, nullable=True))
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(sa.Column("model_version", sa.String(100), nullable=True, comment="model version evaluated"))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(
            sa.Column("lease_token", sa.String(32), nullable=True, comment="the dispatcher claim that holds it")
        )
    op.create_table(
        "alert_progress",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_tick_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alert_progress"),
    )
    op.create_table(
        "model_activations",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("activated_at", TS, nullable=False),
        sa.Column("activated_by", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_activations"),
    )


def downgrade() -> None:
    op.drop_table("model_activations")
    op.drop_table("alert_progress")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lease_token")
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_column("model_version")
    with op.batch_alter_table("alert_states") as batch:
        for column in ("rule_labels", "receivers", "severity", "rule_kind", "model_version"):
            batch.drop_column(column)
