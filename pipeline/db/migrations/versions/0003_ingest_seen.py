"""Durable ingest dedup shared by every ingest process: `ingest_seen` (hashes, unique news id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
INDEXED = ("title_hash", "band0", "band1", "band2", "band3", "seen_at")


def upgrade() -> None:
    op.create_table(
        "ingest_seen",
        sa.Column("news_id", sa.String(64), nullable=False),
        sa.Column("title_hash", sa.String(32), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=True, comment="64-bit simhash, stored signed"),
        sa.Column("band0", sa.Integer(), nullable=True),
        sa.Column("band1", sa.Integer(), nullable=True),
        sa.Column("band2", sa.Integer(), nullable=True),
        sa.Column("band3", sa.Integer(), nullable=True),
        sa.Column("numbers_hash", sa.String(16), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("news_id", name="pk_ingest_seen"),
    )
    for column in INDEXED:
        op.create_index(f"ix_ingest_seen_{column}", "ingest_seen", [column])


def downgrade() -> None:
    for column in INDEXED:
        op.drop_index(f"ix_ingest_seen_{column}", table_name="ingest_seen")
    op.drop_table("ingest_seen")
