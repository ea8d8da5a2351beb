"""Enrichments carry the predictor's flags (e.g. `truncated`), so a reader can tell a caveated
prediction from a plain one. Inputs that could not be scored are dead-lettered, never stored.

Revision ID: 0003b
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003b"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("enrichments") as batch:
        batch.add_column(
            sa.Column(
                "flags",
                JSON,
                nullable=False,
                server_default=sa.text("'[]'"),
                comment="caveats of the prediction, e.g. truncated",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("enrichments") as batch:
        batch.drop_column("flags")
