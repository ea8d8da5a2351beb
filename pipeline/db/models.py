"""The relational schema: SQLAlchemy 2.0 declarative models, one class per table.

Migrations in `pipeline/db/migrations/versions/` are written by hand to match; an integration
test compares the migrated database with this metadata so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pipeline.db.types import BigIntPk, JsonType, UtcDateTime

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can refer to them on every dialect."""

SENTIMENTS: Final = ("negative", "neutral", "positive")
ALERT_STATE_STATUSES: Final = ("inactive", "pending", "firing", "resolved")
ALERT_EVENT_STATUSES: Final = ("firing", "resolved")
ALERT_EVALUATIONS: Final = ("early", "final")
DELIVERY_STATUSES: Final = ("pending", "delivered", "failed")
ENTITY_SENTIMENT_SOURCES: Final = ("entity", "sentence")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Article(Base):
    """One news item as ingested (`RawNews`); `id` is the stable news id."""

    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(4000))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    tickers: Mapped[list[str]] = mapped_column(JsonType, default=list)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())

    enrichments: Mapped[list[Enrichment]] = relationship(back_populates="article", passive_deletes=True)


FTS_VECTOR: Final = "to_tsvector('english', title || ' ' || body)"
"""The text-search vector of an article (Postgres), as queries write it (`pipeline.read.search`)."""
Index(
    "ix_articles_fts",
    # FTS_VECTOR as Postgres prints it back, so the migrated schema compares equal to the models
    text("to_tsvector('english'::regconfig, (title || ' '::text) || body)"),
    postgresql_using="gin",
    _table=Article.__table__,
).ddl_if(dialect="postgresql")
Index(
    "ix_articles_tickers",
    text("tickers jsonb_path_ops"),  # an expression, so that SQLite (which has no such index) skips it
    postgresql_using="gin",
    _table=Article.__table__,
).ddl_if(dialect="postgresql")
"""Articles by the tickers their source listed (`tickers @> '["ACME"]'`), Postgres only."""


class Enrichment(Base):
    """What one model version said about one article (`EnrichedNews`)."""

    __tablename__ = "enrichments"
    __table_args__ = (
        UniqueConstraint("news_id", "model_version"),
        # on Postgres both cover what window aggregates read (migration 0006): index-only scans
        Index(
            "ix_enrichments_window",
            "model_version",
            "topic",
            "published_at",
            postgresql_include=["sentiment", "sentiment_score"],
        ),
        Index(
            "ix_enrichments_model_version_published_at",
            "model_version",
            "published_at",
            postgresql_include=["topic", "sentiment", "sentiment_score"],
        ),
        CheckConstraint(one_of("sentiment", SENTIMENTS), name="sentiment"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    news_id: Mapped[str] = mapped_column(String(64), ForeignKey("articles.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, comment="copied from the article")
    topic: Mapped[str] = mapped_column(String(100))
    topic_score: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[str] = mapped_column(String(16))
    p_negative: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)
    p_positive: Mapped[float] = mapped_column(Float)
    sentiment_score: Mapped[float] = mapped_column(Float)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    flags: Mapped[list[str]] = mapped_column(
        JsonType, default=list, server_default=text("'[]'"), comment="caveats of the prediction, e.g. truncated"
    )
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())

    article: Mapped[Article] = relationship(back_populates="enrichments")
    entities: Mapped[list[Entity]] = relationship(back_populates="enrichment", passive_deletes=True)


class Entity(Base):
    """A named entity of one enrichment; offsets index into `RawNews.text`."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("enrichment_id", "start_char", "end_char", "label"),
        CheckConstraint("end_char >= start_char", name="span"),
        CheckConstraint(f"sentiment IS NULL OR {one_of('sentiment', SENTIMENTS)}", name="entity_sentiment"),
        CheckConstraint(
            f"sentiment_source IS NULL OR {one_of('sentiment_source', ENTITY_SENTIMENT_SOURCES)}",
            name="sentiment_source",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    enrichment_id: Mapped[int] = mapped_column(BigIntPk, ForeignKey("enrichments.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32))
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    ticker: Mapped[str | None] = mapped_column(String(32), index=True)
    sentiment: Mapped[str | None] = mapped_column(
        String(16), comment="the model's sentiment towards the entity (sentiment_source says which output); NULL: none"
    )
    p_negative: Mapped[float | None] = mapped_column(Float)
    p_neutral: Mapped[float | None] = mapped_column(Float)
    p_positive: Mapped[float | None] = mapped_column(Float)
    sentiment_score: Mapped[float | None] = mapped_column(Float, comment="P(positive) - P(negative)")
    sentiment_source: Mapped[str | None] = mapped_column(
        String(16),
        comment="entity: the entity's own sentiment; sentence: its sentence's; NULL: none, or before 0009",
    )

    enrichment: Mapped[Enrichment] = relationship(back_populates="entities")


class AlertStateRow(Base):
    """The evaluator's memory of one alert (one fingerprint) between evaluations
    (`alerts.lifecycle.AlertState`)."""

    __tablename__ = "alert_states"
    __table_args__ = (CheckConstraint(one_of("status", ALERT_STATE_STATUSES), name="status"),)

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    labels: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="inactive", index=True)
    pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_active_at: Mapped[datetime | None] = mapped_column(UtcDateTime, comment="condition last held")
    notified_status: Mapped[str | None] = mapped_column(String(16), comment="what was last notified")
    consecutive_hits: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_figures: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(100), comment="model version evaluated")
    rule_kind: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(32))
    receivers: Mapped[list[str] | None] = mapped_column(JsonType, comment="of the rule, for orphan resolutions")
    rule_labels: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class AlertEventRow(Base):
    """One emitted firing or resolution (the `schemas.AlertEvent` contract); `backtest` marks
    events of a backtest delivery."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint(one_of("status", ALERT_EVENT_STATUSES), name="status"),
        CheckConstraint(one_of("evaluation", ALERT_EVALUATIONS), name="evaluation"),
        Index("ix_alert_events_fingerprint_emitted_at", "fingerprint", "emitted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    figures: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    severity: Mapped[str] = mapped_column(String(32), default="warning")
    labels: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    emitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    backtest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, comment="when it reached alerts.events")
    model_version: Mapped[str | None] = mapped_column(String(100), comment="model version evaluated")
    evaluation: Mapped[str] = mapped_column(
        String(8),
        default="final",
        server_default="final",
        comment="early: as soon as the tick was due; final: once its allowed lateness had passed",
    )


class AlertEvidence(Base):
    """The articles that made a firing event's window, recorded when it fired (`alerts.evidence`):
    the evidence an analyst sees does not change when late articles arrive."""

    __tablename__ = "alert_evidence"

    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("alert_events.event_id", ondelete="CASCADE"), primary_key=True
    )
    enrichment_id: Mapped[int] = mapped_column(
        BigIntPk, ForeignKey("enrichments.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    news_id: Mapped[str] = mapped_column(String(64), comment="the enrichment's article")


class WebhookDelivery(Base):
    """Transactional outbox: one webhook to send, written in the transaction of its event.

    `event_id` is what is delivered: an `alert_events.event_id`, or a `watchlist_notices.notice_id`
    (no foreign key since migration 0007: it names a row of either table)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
        UniqueConstraint("event_id", "receiver"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True, comment="msg_... (webhook-id header)")
    event_id: Mapped[str] = mapped_column(String(36))
    receiver: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text, comment="the exact JSON body that gets signed")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32), comment="the dispatcher claim that holds it")


class Silence(Base):
    """Mutes matching alerts between `starts_at` and `ends_at`."""

    __tablename__ = "silences"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="period"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    matchers: Mapped[dict[str, Any]] = mapped_column(JsonType, comment="topic / rule / labels to match")
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())


class IngestSeen(Base):
    """Durable ingest dedup: one row per item produced to news.raw, shared by every ingest process.

    Hashes only (no headline text): the id is the unique key, the title hash and the four simhash
    bands index the title and near-duplicate checks (`pipeline.ingest.dedup`). Rows older than the
    retention (`seen_at`) are ignored and pruned.
    """

    __tablename__ = "ingest_seen"

    news_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_hash: Mapped[str] = mapped_column(String(32), index=True)
    simhash: Mapped[int | None] = mapped_column(BigInteger, comment="64-bit simhash, stored signed")
    band0: Mapped[int | None] = mapped_column(Integer, index=True)
    band1: Mapped[int | None] = mapped_column(Integer, index=True)
    band2: Mapped[int | None] = mapped_column(Integer, index=True)
    band3: Mapped[int | None] = mapped_column(Integer, index=True)
    numbers_hash: Mapped[str] = mapped_column(String(16))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AlertProgress(Base):
    """How far an evaluator got: the last tick (event time) whose states and events are stored."""

    __tablename__ = "alert_progress"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_tick_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ModelActivation(Base):
    """A log of `finsent model activate V`: the latest row is the version live alerts evaluate."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(String(100))
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    activated_by: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


WATCHLIST_RELEVANCE: Final = ("mention", "title")
NOTICE_KINDS: Final = ("article", "alert")
NOTICE_STATUSES: Final = ("queued", "suppressed")


class WatchlistRow(Base):
    """A watchlist (`alerts.watchlists.Watchlist`): what to match, the condition, where to send.

    Removal is soft (`deleted_at`), so notices keep their watchlist. Every write takes the next
    `watchlist_revision` value into `revision`; stream workers load the rows above the revision
    they have seen (`alerts.watchlists.store.changes_since`)."""

    __tablename__ = "watchlists"
    __table_args__ = (CheckConstraint(one_of("min_relevance", WATCHLIST_RELEVANCE), name="min_relevance"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    tickers: Mapped[list[str]] = mapped_column(JsonType, default=list)
    entities: Mapped[list[str]] = mapped_column(JsonType, default=list)
    topics: Mapped[list[str]] = mapped_column(JsonType, default=list)
    condition: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, comment="sentiment condition")
    min_relevance: Mapped[str] = mapped_column(String(16), default="mention")
    receivers: Mapped[list[str]] = mapped_column(JsonType, default=list, comment="[] = every configured one")
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    rate_limit: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WatchlistRevision(Base):
    """One row: the last revision given to a watchlist write (writers serialise on it)."""

    __tablename__ = "watchlist_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class WatchlistNotice(Base):
    """One decision about one watchlist and one article (or alert event): queued to the outbox
    (`webhook_deliveries.event_id = notice_id`, one row per receiver) or suppressed with why.
    At most one per (watchlist, news_id, model_version): re-deliveries never notify twice."""

    __tablename__ = "watchlist_notices"
    __table_args__ = (
        UniqueConstraint("watchlist_id", "news_id", "model_version"),
        CheckConstraint(one_of("kind", NOTICE_KINDS), name="kind"),
        CheckConstraint(one_of("status", NOTICE_STATUSES), name="status"),
        Index("ix_watchlist_notices_watchlist_id_status_created_at", "watchlist_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(String(36), unique=True)
    watchlist_id: Mapped[int] = mapped_column(BigIntPk, ForeignKey("watchlists.id"))
    kind: Mapped[str] = mapped_column(String(16))
    news_id: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(100))
    alert_fingerprint: Mapped[str | None] = mapped_column(String(64))
    alert_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), comment="why it was suppressed")
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    event_at: Mapped[datetime] = mapped_column(UtcDateTime, comment="published_at, or the alert's emitted_at")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


TABLES: Final = tuple(Base.metadata.sorted_tables)
TABLE_NAMES: Final = frozenset(t.name for t in TABLES)
