"""Watchlists: per-article notices on tickers, entities and topics (`finsent worker stream`).

- `watchlists`: what to match, the sentiment condition, receivers, quiet hours, rate limit;
  soft removal (`deleted_at`); `revision` is the `watchlist_revision` value of the last write.
- `watchlist_revision`: one row (from the first write on), the last revision given out; stream
  workers poll it to know when to reload (writers serialise on it, so revisions commit in order).
- `watchlist_notices`: one decision per (watchlist, news_id, model_version) or per (watchlist,
  alert event): queued to the outbox or suppressed (quiet hours, rate limit, no receiver).
- `webhook_deliveries.event_id` loses its foreign key to `alert_events`: a delivery now carries
  an alert event id or a watchlist notice id. The downgrade deletes the notices' deliveries and
  restores the key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DELIVERY_FK = "fk_webhook_deliveries_event_id_alert_events"


def upgrade() -> None:
    op.create_table(
        "watchlists",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("tickers", JSON, nullable=False),
        sa.Column("entities", JSON, nullable=False),
        sa.Column("topics", JSON, nullable=False),
        sa.Column("condition", JSON, nullable=False, comment="sentiment condition"),
        sa.Column("min_relevance", sa.String(16), nullable=False),
        sa.Column("receivers", JSON, nullable=False, comment="[] = every configured one"),
        sa.Column("quiet_hours", JSON, nullable=True),
        sa.Column("rate_limit", JSON, nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_watchlists"),
        sa.CheckConstraint("min_relevance IN ('mention', 'title')", name="ck_watchlists_min_relevance"),
    )
    op.create_index("ix_watchlists_name", "watchlists", ["name"])
    op.create_index("ix_watchlists_revision", "watchlists", ["revision"])
    op.create_table(
        "watchlist_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watchlist_revision"),
        sa.CheckConstraint("id = 1", name="ck_watchlist_revision_single_row"),
    )
    op.create_table(
        "watchlist_notices",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("watchlist_id", BIGID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("news_id", sa.String(64), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("alert_fingerprint", sa.String(64), nullable=True),
        sa.Column("alert_status", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True, comment="why it was suppressed"),
        sa.Column("hits", JSON, nullable=False),
        sa.Column("event_at", TS, nullable=False, comment="published_at, or the alert's emitted_at"),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watchlist_notices"),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"], name="fk_watchlist_notices_watchlist_id_watchlists"),
        sa.UniqueConstraint("notice_id", name="uq_watchlist_notices_notice_id"),
        sa.UniqueConstraint(
            "watchlist_id", "news_id", "model_version", name="uq_watchlist_notices_watchlist_id_news_id_model_version"
        ),
        sa.CheckConstraint("kind IN ('article', 'alert')", name="ck_watchlist_notices_kind"),
        sa.CheckConstraint("status IN ('queued', 'suppressed')", name="ck_watchlist_notices_status"),
    )
    op.create_index(
        "ix_watchlist_notices_watchlist_id_status_created_at",
        "watchlist_notices",
        ["watchlist_id", "status", "created_at"],
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint(DELIVERY_FK, type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM webhook_deliveries WHERE event_id IN (SELECT notice_id FROM watchlist_notices)")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.create_foreign_key(DELIVERY_FK, "alert_events", ["event_id"], ["event_id"], ondelete="CASCADE")
    op.drop_index("ix_watchlist_notices_watchlist_id_status_created_at", table_name="watchlist_notices")
    op.drop_table("watchlist_notices")
    op.drop_table("watchlist_revision")
    op.drop_index("ix_watchlists_revision", table_name="watchlists")
    op.drop_index("ix_watchlists_name", table_name="watchlists")
    op.drop_table("watchlists")
