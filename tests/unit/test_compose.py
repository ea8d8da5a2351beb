"""docker-compose.yml: valid under the Compose Specification, and the production stack is complete.

Validated against the vendored Compose Specification schema (`tests/data/compose-spec.json`) after
interpolating `${VAR}`, `${VAR:-default}` and `${VAR:?message}` as Compose does, so the answer is
the same on every machine: no Docker engine or compose plugin is needed or consulted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
REQUIRED_ENV = {
    "FINSENT_WEBHOOK_SECRET": "test-secret",
    "POSTGRES_PASSWORD": "test-password",
    "FINSENT_API_TOKENS": "desk:read+admin:sha256:" + "0" * 64,
    "GRAFANA_ADMIN_PASSWORD": "test-password",
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(LookupError):
    """A `${VAR:?message}` variable is unset, as `docker compose config` would report."""


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Substitute variables in every string of a loaded compose document."""
    if isinstance(value, str):

        def substitute(m: re.Match[str]) -> str:
            name, op, arg = m.group(1), m.group(2), m.group(3) or ""
            current = env.get(name)
            if op in (":-", "-"):
                return current if current not in (None, "") or op == "-" and current is not None else arg
            if op in (":?", "?"):
                if not current:
                    raise MissingVariable(f"{name}: {arg}")
                return current
            return current or ""

        return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def schema_errors(document: Any) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), REQUIRED_ENV)


def test_compose_file_is_valid_under_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_validator_rejects_what_compose_rejects() -> None:
    """The check can fail: a misspelt key, a wrong type and a bad restart policy are all caught."""
    broken = {
        "services": {
            "model": {"image": "finsent", "restrat": "always"},
            "alerts": {"image": "finsent", "ports": "8080"},
            "ingest": {"image": "finsent", "depends_on": {"kafka": {"condition": "whenever"}}},
        }
    }
    errors = schema_errors(broken)
    assert any("restrat" in e for e in errors)
    assert any(e.startswith("services/alerts/ports") for e in errors)
    assert any(e.startswith("services/ingest/depends_on") for e in errors)


def test_secrets_must_be_supplied() -> None:
    """The stack refuses to start without the secrets the README says to set."""
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in REQUIRED_ENV:
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw, {k: v for k, v in REQUIRED_ENV.items() if k != name})


def test_compose_file_declares_the_production_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "postgres", "migrate", "serve", "ingest", "model", "alerts"} <= set(services)
    assert services["serve"]["command"][:2] == ["finsent", "serve"] and "8080:8080" in services["serve"]["ports"]
    assert services["serve"]["environment"]["FINSENT_API_TOKENS"] == REQUIRED_ENV["FINSENT_API_TOKENS"]
    assert "--serve" not in services["ingest"]["command"] and services["ingest"]["profiles"] == ["feeds"]
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in ("kafka", "postgres"):
        assert "healthcheck" in services[name], name
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    gpu = services["model"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert services["migrate"]["command"] == ["finsent", "db", "upgrade"]
    for name, service in services.items():
        if service.get("image", "").startswith("finsent") or "build" in service:
            if name != "migrate":
                assert (
                    services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
                ), name
    assert (ROOT / "Dockerfile").is_file()
