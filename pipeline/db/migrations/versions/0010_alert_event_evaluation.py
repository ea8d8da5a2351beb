"""Alert events say which evaluation of their tick emitted them: `early` (as soon as the tick was
due, on the articles stored so far) or `final` (once its allowed lateness had passed; every
backtest event). Rows written before 0010 were all final.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(
            sa.Column(
                "evaluation",
                sa.String(8),
                nullable=False,
                server_default="final",
                comment="early: as soon as the tick was due; final: once its allowed lateness had passed",
            )
        )
        batch.create_check_constraint("ck_alert_events_evaluation", "evaluation IN ('early', 'final')")


def downgrade() -> None:
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_constraint("ck_alert_events_evaluation", type_="check")
        batch.drop_column("evaluation")
