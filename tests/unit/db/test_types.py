"""UtcDateTime: aware in, aware UTC out, on both dialects; naive refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.db.types import UtcDateTime

PLUS5 = timezone(timedelta(hours=5))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_bind_converts_to_utc(dialect: object) -> None:
    bound = UtcDateTime().process_bind_param(datetime(2026, 1, 1, 12, tzinfo=PLUS5), dialect)  # type: ignore[arg-type]
    assert bound is not None
    assert bound.replace(tzinfo=UTC) == datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert (bound.tzinfo is None) == (dialect.name == "sqlite")  # type: ignore[attr-defined]


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())  # noqa: DTZ001


def test_result_is_aware_utc() -> None:
    column = UtcDateTime()
    naive = column.process_result_value(datetime(2026, 1, 1, 7), sqlite.dialect())  # noqa: DTZ001
    aware = column.process_result_value(datetime(2026, 1, 1, 12, tzinfo=PLUS5), postgresql.dialect())
    assert naive == aware == datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert naive is not None and naive.tzinfo is UTC
    assert aware is not None and aware.tzinfo is UTC


def test_none_passes_through() -> None:
    assert UtcDateTime().process_bind_param(None, sqlite.dialect()) is None
    assert UtcDateTime().process_result_value(None, sqlite.dialect()) is None
