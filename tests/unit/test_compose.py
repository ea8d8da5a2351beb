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
from sqlalchemy.engine import make_url

from pipeline.config import Settings
from pipeline.kafka.security import KafkaSecurity

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
REQUIRED_ENV = {
    "FINSENT_WEBHOOK_SECRET": "test-secret",
    "POSTGRES_PASSWORD": "test-password",
    "FINSENT_API_TOKENS": "desk:read+admin:sha256:" + "0" * 64,
    "GRAFANA_ADMIN_PASSWORD": "test-password",
    "FINSENT_DB_OWNER_PASSWORD": "test-owner-password",
    "FINSENT_DB_APP_PASSWORD": "test-app-password",
    "KAFKA_BROKER_PASSWORD": "test-broker-password",
    "FINSENT_KAFKA_SASL_PASSWORD": "test-client-password",
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
    assert (
        services["serve"]["command"][:2] == ["finsent", "serve"] and "8080:8080" in services["serve"]["ports"]
    )
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


def finsent_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("finsent")}


def test_services_connect_to_postgres_with_least_privilege(compose: dict[str, Any]) -> None:
    """Only `migrate` connects as the schema's owner; every other service as `finsent_app`; none as
    the superuser. The roles are made on the volume's first start by the shipped script."""
    for name, service in finsent_services(compose).items():
        url = make_url(service["environment"]["FINSENT_DATABASE_URL"])
        want = (
            ("finsent_owner", "test-owner-password")
            if name == "migrate"
            else ("finsent_app", "test-app-password")
        )
        assert (url.username, url.password, url.database) == (*want, "finsent"), name
    postgres = compose["services"]["postgres"]
    assert (
        postgres["environment"]["POSTGRES_USER"] == "postgres"
        and "POSTGRES_DB" not in postgres["environment"]
    )
    mounts = {m.split(":")[1]: ROOT / m.split(":")[0] for m in postgres["volumes"] if m.startswith("./")}
    assert mounts["/docker-entrypoint-initdb.d/10-finsent-roles.sh"].is_file()
    assert mounts["/etc/finsent/roles.sql"].is_file()


def test_kafka_has_no_unauthenticated_listener_and_clients_log_in(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in kafka["KAFKA_LISTENERS"].split(","):
        name, address = listener.split("://")
        if protocols[name] == "PLAINTEXT":  # only the controller, on the container's loopback
            assert name == kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] and address.startswith("localhost:"), (
                listener
            )
    assert kafka["KAFKA_ADVERTISED_LISTENERS"].startswith("SASL_PLAINTEXT://")
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == kafka["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"]
    assert compose["services"]["kafka"]["command"][-1] == "/etc/finsent/start-scram.sh"
    for name, service in finsent_services(compose).items():
        env = {k: str(v) for k, v in service["environment"].items() if k.startswith("FINSENT_KAFKA_")}
        security = KafkaSecurity.from_settings(
            Settings(**{k.removeprefix("FINSENT_").lower(): v for k, v in env.items()})
        )
        assert security.client_config() == {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": kafka["KAFKA_SASL_ENABLED_MECHANISMS"],
            "sasl_plain_username": kafka["FINSENT_KAFKA_SASL_USERNAME"],
            "sasl_plain_password": kafka["FINSENT_KAFKA_SASL_PASSWORD"],
        }, name


def test_env_example_names_every_required_secret() -> None:
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and line[0] != "#"
    )
    assert set(REQUIRED_ENV) <= set(example)
    interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), example)  # nothing missing
