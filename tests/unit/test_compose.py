"""docker-compose.yml: the production stack is complete and well-formed (no engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_cli() -> list[str] | None:
    """`docker compose` when the plugin is installed, else `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_file_declares_the_production_stack() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"kafka", "postgres", "migrate", "serve", "ingest", "model", "alerts"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in ("kafka", "postgres"):
        assert "healthcheck" in services[name], name
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    gpu = services["model"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert services["migrate"]["command"] == ["finsent", "db", "upgrade"]
    for name in ("serve", "ingest", "model", "alerts"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["serve"]["command"][:2] == ["finsent", "serve"] and "8080:8080" in services["serve"]["ports"]
    assert "FINSENT_API_TOKENS" in services["serve"]["environment"]
    assert "--serve" not in services["ingest"]["command"]
    assert (ROOT / "Dockerfile").is_file()
    cli = _compose_cli()
    if cli is None:  # no compose CLI here (no plugin): the structural checks above are what runs
        return
    result = subprocess.run(
        [*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env={
            "FINSENT_WEBHOOK_SECRET": "test",
            "FINSENT_API_TOKENS": "ci:ingest:sha256:" + "0" * 64,
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
