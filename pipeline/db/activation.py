"""The model version live alerts evaluate: `FINSENT_ALERTS_MODEL_VERSION`, else the stored active
version (`finsent model activate V`, a log in `model_activations`), never "the latest stored".

A replay under a new version therefore changes nothing live until someone activates it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, func, select

from pipeline.db.models import Enrichment, ModelActivation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    model_version: str | None
    source: Literal["setting", "activated", "none"]
    activated_at: datetime | None = None
    activated_by: str = ""


def active_version(engine: Engine, configured: str | None = None) -> ActiveVersion:
    """`configured` (the setting) when given, else the last activation, else none."""
    if configured:
        return ActiveVersion(configured, "setting")
    with engine.connect() as conn:
        row = conn.execute(
            select(ModelActivation.model_version, ModelActivation.activated_at, ModelActivation.activated_by)
            .order_by(ModelActivation.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return ActiveVersion(None, "none")
    return ActiveVersion(str(row[0]), "activated", row[1], str(row[2]))


def stored_versions(engine: Engine) -> dict[str, int]:
    """Enrichments per stored model version."""
    with engine.connect() as conn:
        rows = conn.execute(select(Enrichment.model_version, func.count()).group_by(Enrichment.model_version))
        return {str(v): int(n) for v, n in rows}


def activate(engine: Engine, model_version: str, *, now: datetime, by: str = "", comment: str = "") -> None:
    """Make `model_version` the active one (logged; the previous activations stay as history)."""
    if not model_version or len(model_version) > 100:
        raise ValueError(f"[MDL001] a model version is 1-100 characters, not {model_version!r}")
    with engine.begin() as conn:
        conn.execute(
            ModelActivation.__table__.insert().values(
                model_version=model_version, activated_at=now, activated_by=by, comment=comment
            )
        )
    log.info("model version %s activated for live alerts by %s", model_version, by or "?")


def activate_first(engine: Engine, model_version: str, *, now: datetime, by: str) -> bool:
    """Activate `model_version` only when no version was ever activated; True when it did. A fresh
    deployment thus evaluates the version its first live model worker serves, and nothing after
    that changes it implicitly. (Workers that start at the same instant may each insert a row; the
    last is active — they serve one checkpoint, so it is the same version.)"""
    with engine.begin() as conn:
        if conn.execute(select(ModelActivation.id).limit(1)).first() is not None:
            return False
        conn.execute(
            ModelActivation.__table__.insert().values(
                model_version=model_version, activated_at=now, activated_by=by, comment="first live version"
            )
        )
    log.info("no model version was active: %s activated for live alerts (%s)", model_version, by)
    return True
