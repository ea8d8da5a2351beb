"""Property-based fuzzing of the whole API from its OpenAPI document (schemathesis strategies run
by hypothesis): no generated request, valid or not, gets a 5xx, on SQLite and on Postgres
(which refuses NUL in text: a NUL in a silence matcher was a 500). Bounded: `EXAMPLES` per
operation; derandomized and without an example database, so every run sends the same requests."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.fixtures.analyst_app import AnalystApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 30


def test_no_input_gets_a_server_error(analyst_app: AnalystApp) -> None:
    """As `desk` (read + admin): every route runs past authentication into its own code."""
    schema = schemathesis.openapi.from_url(f"{analyst_app.url}/openapi.json")
    headers = {"Authorization": f"Bearer {analyst_app.tokens['desk']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "GET /v1/topics",
        "GET /v1/topics/{topic}/timeline",
        "GET /v1/articles",
        "GET /v1/articles/{news_id}",
        "GET /v1/entities/top",
        "GET /v1/alerts",
        "GET /v1/alerts/{alert_id}",
        "GET /v1/rules",
        "GET /v1/deliveries",
        "GET /v1/silences",
        "POST /v1/silences",
        "DELETE /v1/silences/{silence_id}",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        try:
            fuzz()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
