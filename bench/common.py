"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

SUBJECTS = ("Apple", "Exxon Mobil", "JPMorgan", "Tesla", "Pfizer", "Goldman Sachs", "the Fed", "OPEC", "Nvidia")
EVENTS = (
    "beats quarterly estimates and raises guidance",
    "shares slide after regulators open a probe",
    "announces $5 billion buyback as profits climb",
    "cuts jobs amid falling demand in Europe",
    "signals a pause in rate hikes as inflation cools",
    "agrees to buy a rival in an all-stock deal",
)
"""Words of the synthetic headlines the pipeline benchmarks push (subject, event, number)."""


@contextlib.contextmanager
def scratch_postgres(admin_url: str | None = None) -> Iterator[str]:
    """A new, empty Postgres database for one benchmark run; dropped afterwards."""
    admin = admin_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    name = f"finsent_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
