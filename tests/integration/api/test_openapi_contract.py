"""The OpenAPI document tells the truth: `schemathesis run --checks all` (the CLI, with its
examples, coverage, fuzzing and stateful phases) over every operation of the analysts' app on a
seeded Postgres database finds no failure. A schema-valid request refused, a schema-invalid one
accepted, an undocumented status or header, a response off its schema, or a 5xx fails the test.

As `desk` (read + admin), like the demo's dashboard token: `POST /v1/news` is only seen refused
(403), which schemathesis reports as a warning, not a failure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.db import migrate
from tests.fixtures.analyst_app import AnalystApp, serve_analyst_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 5
"""Per operation and phase; with a fixed seed the run is the same every time (about 30 s here)."""
SEED = 19


@pytest.fixture(scope="module")
def pg_app(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystApp]:
    migrate.upgrade(pg_module_url)
    server, app = serve_analyst_app(pg_module_url, tmp_path_factory.mktemp("rules") / "rules.yaml")
    try:
        yield app
    finally:
        server.stop()
        app.engine.dispose()


def test_schemathesis_finds_no_failure(pg_app: AnalystApp, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{pg_app.url}/openapi.json",
        "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--no-color",
        "--header", f"Authorization: Bearer {pg_app.tokens['desk']}",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: 19" in done.stdout or "Tested:" in done.stdout
