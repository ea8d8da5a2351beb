"""The operators' side: Prometheus scrapes every finsent service of the compose stack, its rules
and config pass `promtool` (and its rule unit tests), and the provisioned Grafana dashboard loads
and only queries metrics finsent exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from alerts.metrics import AlertsMetrics
from pipeline.ingest.publisher import IngestMetrics
from pipeline.metrics import ModelWorkerMetrics
from tests.fixtures.services import service_missing
from workers.http.access import AccessLog

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "finsent.json"
METRIC = re.compile(r"\bfinsent_[a-z0-9_]+")


def exported_metrics() -> set[str]:
    """Every series name finsent's registries can export (counters' `_total`, histograms' parts)."""
    registry = CollectorRegistry()
    ModelWorkerMetrics.create(registry)
    AlertsMetrics.create(registry)
    IngestMetrics(registry)
    AccessLog(lambda *a: None, registry=registry)  # type: ignore[arg-type,return-value]
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {f.name + s for f in registry.collect() for s in suffixes.get(f.type, ("",))}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        service_missing("promtool", "not installed: apt-get install -y prometheus (make setup-test does)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, check=False)


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def test_prometheus_scrapes_every_finsent_service_of_the_compose_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    finsent = {
        name
        for name, service in compose["services"].items()
        if (service.get("image", "").startswith("finsent") or "build" in service) and name != "migrate"
    }
    assert finsent == {"ingest", "model", "alerts", "serve", "stream"}
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    scraped = {
        name: job["job_name"] for job in config["scrape_configs"] for sd in job["dns_sd_configs"] for name in sd["names"]
    }
    assert set(scraped) == finsent
    assert all(job == f"finsent-{name}" for name, job in scraped.items())
    assert compose["services"]["serve"]["command"][-1] == "8080"
    environment = compose["services"]["model"]["environment"]
    assert environment["FINSENT_METRICS_HOST"] == "0.0.0.0" and environment["FINSENT_METRICS_PORT"] == "9100"
    for name in ("prometheus", "grafana"):
        assert name in compose["services"]


def test_promtool_accepts_the_config_and_the_rules_and_their_unit_tests_pass() -> None:
    for args in (
        ("check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.yml")),
        ("check", "rules", str(PROMETHEUS / "rules" / "finsent.yml")),
        ("test", "rules", str(PROMETHEUS / "rules" / "finsent_test.yml")),
    ):
        result = promtool(*args)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(finsent_x[5m]\n")
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_alerting_rules_cover_finsent_health() -> None:
    rules = yaml.safe_load((PROMETHEUS / "rules" / "finsent.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert {"FinsentWorkerDown", "FinsentConsumerLagGrowing", "FinsentIngestDeadLetters", "FinsentWebhookFailures"} <= set(alerts)
    assert all(r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"] for r in alerts.values())
    unknown = {m for r in alerts.values() for m in METRIC.findall(r["expr"])} - exported_metrics()
    assert unknown == set()


def test_the_grafana_dashboard_loads_and_queries_exported_metrics() -> None:
    dashboard = _dashboard()
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "finsent.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert dashboard["uid"] == "finsent-ops" and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("throughput", "consumer lag", "dead letters", "store latency", "alert ticks", "webhook"):
        assert topic in titles, topic
    queried: set[str] = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == uid and panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            queried |= set(METRIC.findall(target["expr"]))
    assert queried - exported_metrics() == set()
    assert {"finsent_model_consumer_lag", "finsent_alerts_webhooks_total", "finsent_ingest_dlq_total"} <= queried
