"""The SQL `StatsSource` on Postgres equals the in-memory one (the same property as
tests/unit/alerts/test_stats_sources.py, which runs it on SQLite): identical statistics and
decisions for arbitrary articles on and off the period edges, tickers, versions, every rule kind."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.fixtures.alerts_property import check_sources_agree

pytestmark = pytest.mark.integration


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_postgres_and_memory_stats_and_decisions_are_identical(pg_engine: Engine, data: st.DataObject) -> None:
    check_sources_agree(pg_engine, data)
