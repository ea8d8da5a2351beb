"""Entities carry their own (targeted) sentiment from the model's fourth output: the label, the
three probabilities and the score. NULL where the model abstained or the row predates it;
readers then use the headline's sentiment.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.add_column(
            sa.Column(
                "sentiment",
                sa.String(16),
                nullable=True,
                comment="the entity's own sentiment; NULL where the model abstained (use the headline's)",
            )
        )
        batch.add_column(sa.Column("p_negative", sa.Float(), nullable=True))
        batch.add_column(sa.Column("p_neutral", sa.Float(), nullable=True))
        batch.add_column(sa.Column("p_positive", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sentiment_score", sa.Float(), nullable=True, comment="P(positive) - P(negative)"))
        batch.create_check_constraint(
            "ck_entities_entity_sentiment", "sentiment IS NULL OR sentiment IN ('negative', 'neutral', 'positive')"
        )


def downgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.drop_constraint("ck_entities_entity_sentiment", type_="check")
        for column in ("sentiment_score", "p_positive", "p_neutral", "p_negative", "sentiment"):
            batch.drop_column(column)
