"""The OpenAPI document tells the truth: `schemathesis run --checks all` (the CLI: examples,
coverage, fuzzing and stateful phases) over every operation of the analysts' app on a seeded
Postgres database finds no failure. A schema-valid request refused, a schema-invalid one accepted,
an undocumented status or header, a response off its schema, or a 5xx fails the test, which then
shows schemathesis's whole report (each failure with a curl command that reproduces it).

Deterministic: derandomized generation (which also means no example database, so a failure
stored by an earlier run is not replayed), one worker (requests in the same order every run), a
request timeout far above any answer's time and no per-token rate limit (429 is tested in
`test_rate_limits`): the same run, request for request, every time.

As `desk` (read + admin), like the demo's dashboard token: `POST /v1/news` is only seen refused
(403), which schemathesis reports as a warning, not a failure.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.db import migrate
from tests.fixtures.analyst_app import AnalystApp, serve_analyst_app
from tests.fixtures.analyst_data import history

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 5
"""Per operation in the fuzzing and stateful phases (the coverage phase sends every boundary case
the document defines, whatever this says)."""
CONFIG = """
# POST /v1/watchlists: 1,800 of its 2,030 boundary cases are the `timezone` enum (every IANA zone),
# which doubled the run (35-65 s here); tests/unit/watchlists/test_quiet_hours.py checks that the
# server takes every zone of the document, and the fuzzing phase sends the operation 100 requests.
[[operations]]
include-name = "POST /v1/watchlists"
phases.coverage.enabled = false
generation.max-examples = 100

# POST /v1/news answers `desk` 403 whatever it is sent: its ~140 boundary cases would test nothing
# (the fuzzing phase still sends it requests).
[[operations]]
include-name = "POST /v1/news"
phases.coverage.enabled = false

[[operations]]
include-name = "GET /v1/alerts/{{alert_id}}"
parameters = {{ alert_id = "{fingerprint}" }}

[[operations]]
include-name = "GET /v1/articles/{{news_id}}"
parameters = {{ news_id = "{news_id}" }}
"""
"""`schemathesis.toml` of the run; the seeded alert and an article give the detail routes ids that exist."""


@pytest.fixture(scope="module")
def pg_app(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystApp]:
    migrate.upgrade(pg_module_url)
    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    server, app = serve_analyst_app(pg_module_url, rules, rate_token_per_s=0)
    try:
        yield app
    finally:
        server.stop()
        app.engine.dispose()


def schemathesis_run(app: AnalystApp, workdir: Path) -> subprocess.CompletedProcess[str]:
    config = workdir / "schemathesis.toml"
    news_id = history()[0][0].id
    config.write_text(CONFIG.format(fingerprint=app.seeded.fingerprint, news_id=news_id), encoding="utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{app.url}/openapi.json", "--checks", "all",
        "--max-examples", str(EXAMPLES), "--generation-deterministic",
        "--workers", "1", "--request-timeout", "120",
        "--header", f"Authorization: Bearer {app.tokens['desk']}", "--report-dir", str(workdir / "report"),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=workdir)


def test_schemathesis_finds_no_failure(pg_app: AnalystApp, tmp_path: Path) -> None:
    with pg_app.client("desk") as client:
        paths = client.get("/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    done = schemathesis_run(pg_app, tmp_path)
    report = f"schemathesis exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    print(done.stdout)  # each phase's time (shown with pytest -rP)
    if done.returncode != 0:
        pytest.fail(report, pytrace=False)
    assert f"Tested: {operations}" in done.stdout, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in done.stdout, report
