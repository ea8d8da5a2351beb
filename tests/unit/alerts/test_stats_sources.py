"""The two `StatsSource`s are one computation: SQL (live, here on SQLite; on Postgres in
tests/integration/test_alerts_stats_postgres.py) and prefix sums in memory (history) give identical
statistics and identical decisions for arbitrary articles and instants, every rule kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from alerts.stats_memory import MemoryStats
from alerts.stats_sql import SqlStats
from pipeline.db import make_engine, migrate
from tests.fixtures.alerts_property import check_sources_agree, observed, rows_of, store_items


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'db.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sql_and_memory_stats_and_decisions_are_identical(sqlite_engine: Engine, data: st.DataObject) -> None:
    check_sources_agree(sqlite_engine, data)


def test_a_firing_group_is_found_by_both(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Not vacuous: on a planted burst both sources say active."""
    from datetime import timedelta

    from tests.fixtures.alerts_property import NOW0, Item

    burst = [Item(NOW0 - timedelta(minutes=m), "Macro", True, -48, ("ACME",), "m1") for m in range(1, 6)]
    calm = [Item(NOW0 - timedelta(hours=h), "Macro", h % 4 == 0, 16, (), "m1") for h in range(1, 24)]
    store_items(sqlite_engine, burst + calm)
    sql_view = observed(SqlStats(sqlite_engine), "m1", NOW0)
    assert sql_view == observed(MemoryStats(rows_of(burst + calm)), "m1", NOW0)
    active = {name for name, _, is_active, _, _ in sql_view[1] if is_active}  # type: ignore[misc]
    assert {"neg", "volume"} <= active


def test_per_ticker_groups_count_each_entity_with_its_own_sentiment(sqlite_engine: Engine) -> None:
    """"ACME beats while GLBX slides": a negative headline, ACME's own mention positive, GLBX's
    abstained (so the headline's). The later mentions (here the opposite) do not count."""
    from datetime import timedelta

    from alerts.stats import StatsSpec
    from tests.fixtures.alerts_property import NOW0, RULES, Item

    item = Item(NOW0 - timedelta(minutes=5), "Earnings", True, -32, ("ACME", "GLBX"), "m1",
                own=((False, 40), None, (True, -64), (False, 64)))
    store_items(sqlite_engine, [item])
    spec = StatsSpec.of(next(r for r in RULES.rules if r.name == "neg-ticker"))
    window = SqlStats(sqlite_engine).rule_stats(spec, "m1", NOW0).window
    acme = window[(("ticker", "ACME"), ("topic", "Earnings"))]
    glbx = window[(("ticker", "GLBX"), ("topic", "Earnings"))]
    assert (acme.count, acme.negative, acme.score_sum) == (1, 0, 40 / 64)
    assert (glbx.count, glbx.negative, glbx.score_sum) == (1, 1, -32 / 64)
    assert MemoryStats(rows_of([item])).rule_stats(spec, "m1", NOW0).window == window
