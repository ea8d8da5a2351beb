"""Entities say where their sentiment came from: `entity` (the model's own sentiment towards the
entity) or `sentence` (where that was unsure, the sentiment of the sentence holding the mention).
NULL where the entity has no sentiment; rows written before it keep NULL (their sentiment, if any,
is the entity's own).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.add_column(
            sa.Column(
                "sentiment_source",
                sa.String(16),
                nullable=True,
                comment="entity: the entity's own sentiment; sentence: its sentence's; NULL: none, or before 0009",
            )
        )
        batch.create_check_constraint(
            "ck_entities_sentiment_source", "sentiment_source IS NULL OR sentiment_source IN ('entity', 'sentence')"
        )
        batch.alter_column(
            "sentiment",
            existing_type=sa.String(16),
            existing_nullable=True,
            comment="the model's sentiment towards the entity (sentiment_source says which output); NULL: none",
        )


def downgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.alter_column(
            "sentiment",
            existing_type=sa.String(16),
            existing_nullable=True,
            comment="the entity's own sentiment; NULL where the model abstained (use the headline's)",
        )
        batch.drop_constraint("ck_entities_sentiment_source", type_="check")
        batch.drop_column("sentiment_source")
