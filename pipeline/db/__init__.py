"""Storage: models, engines, migrations and the idempotent batch writer."""

from pipeline.db.engine import make_engine, session_factory
from pipeline.db.gate import SchemaMismatchError, open_database, require_head
from pipeline.db.migrate import current, downgrade, head, upgrade
from pipeline.db.models import (
    TABLE_NAMES,
    AlertEventRow,
    AlertStateRow,
    Article,
    Base,
    Enrichment,
    Entity,
    Silence,
    WebhookDelivery,
)
from pipeline.db.types import UtcDateTime
from pipeline.db.writer import (
    MissingArticleError,
    StoreResult,
    count_rows,
    existing_enrichment_ids,
    store_articles,
    store_batch,
)

__all__ = [
    "TABLE_NAMES",
    "AlertEventRow",
    "AlertStateRow",
    "Article",
    "Base",
    "Enrichment",
    "Entity",
    "MissingArticleError",
    "SchemaMismatchError",
    "Silence",
    "StoreResult",
    "UtcDateTime",
    "WebhookDelivery",
    "count_rows",
    "current",
    "downgrade",
    "existing_enrichment_ids",
    "head",
    "make_engine",
    "open_database",
    "require_head",
    "session_factory",
    "store_articles",
    "store_batch",
    "upgrade",
]
