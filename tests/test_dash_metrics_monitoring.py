"""infra/monitoring: the provisioning files parse, fit compose, and query only metrics the code exports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bridge.metrics import BridgeMetrics
from tests.test_compose import _composecheck_binary, _load
from tests.test_dash_metrics import AUTH, SCRAPE, exported_names
from tests.test_security_fixtures import make_app, write_users

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "infra" / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
# a metric selector: a name followed by its label matchers or a range (`x{job="bridge"}`, `x[5m]`)
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    return yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))]


def _targets() -> list[dict[str, Any]]:
    return [t for d in _dashboards() for p in d["panels"] for t in p.get("targets", [])]


def _exported(tmp_path: Path) -> set[str]:
    """Every sample name the bridge's and the dashboard's real registries can expose."""
    names = exported_names(BridgeMetrics().registry.collect())
    app = make_app(
        redis.Redis(), "metrics-names-unused:", write_users(tmp_path / "u.json"), dash_metrics_token=SCRAPE
    )
    text = app.server.test_client().get("/metrics", headers=AUTH).get_data(as_text=True)
    return names | exported_names(text_string_to_metric_families(text))


def test_dashboards_cover_throughput_lag_alerts_and_latencies() -> None:
    exprs = " ".join(t["expr"] for t in _targets())
    for needed in (
        "bridge_events_total",
        "bridge_partition_lag",
        "bridge_alerts_total",
        "bridge_e2e_latency_seconds_bucket",
        "dashapp_http_request_duration_seconds_bucket",
    ):
        assert needed in exprs, needed


@pytest.mark.integration
def test_every_queried_metric_is_one_the_code_exports(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    assert "bridge_events_total" in exported and "dashapp_sessions_active" in exported
    for target in _targets():
        used = set(SELECTOR.findall(target["expr"]))
        assert used, f"no metric selector in {target['expr']!r}"
        unknown = sorted(used - exported)
        assert not unknown, f"{target['expr']!r} queries metrics no code exports: {unknown}"


def test_queries_use_the_scrape_jobs_and_the_provisioned_datasource(prometheus: dict[str, Any]) -> None:
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    for dashboard in _dashboards():
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, panel["title"]
    for target in _targets():
        assert set(re.findall(r'job="([^"]+)"', target["expr"])) <= jobs, target["expr"]
        assert target["datasource"]["uid"] in uids


def test_scrape_targets_match_the_compose_services(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    services = compose["services"]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    bridge_port = int(re.search(r"--metrics-port (\d+)", " ".join(services["bridge"]["command"])).group(1))  # type: ignore[union-attr]
    assert jobs["bridge"]["dns_sd_configs"][0] == {
        **jobs["bridge"]["dns_sd_configs"][0],
        "names": ["bridge"],
        "port": bridge_port,
    }
    dash_port = services["dashapp"]["environment"]["DASH_BIND"].rsplit(":", 1)[1]
    assert jobs["dashapp"]["static_configs"][0]["targets"] == [f"dashapp:{dash_port}"]
    # the scrape secret: the compose secret Prometheus mounts is the variable the dashboard reads
    secret = services["prometheus"]["secrets"][0]
    assert jobs["dashapp"]["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    assert compose["secrets"][secret]["environment"] == "DASH_METRICS_TOKEN"
    assert "DASH_METRICS_TOKEN" in services["dashapp"]["environment"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], name
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), volume


def test_provisioning_files_parse() -> None:
    for path in MONITORING.rglob("*"):
        if path.suffix in (".yml", ".yaml"):
            assert isinstance(yaml.safe_load(path.read_text()), dict), path
        elif path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict), path
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/dashboards.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_go_loads_the_monitoring_profile(tmp_path: Path) -> None:
    """compose-go skips services of inactive profiles; with the profile lines removed it checks them."""
    text = re.sub(
        r"^\s+profiles: \[monitoring\]\n", "", (ROOT / "docker-compose.yml").read_text(), flags=re.M
    )
    (tmp_path / "docker-compose.yml").write_text(text)
    shutil.copytree(ROOT / "infra" / "monitoring", tmp_path / "infra" / "monitoring")
    code, out = _load(_composecheck_binary(tmp_path), tmp_path / "docker-compose.yml")
    assert code == 0, out
    assert {"prometheus", "grafana", "dashapp", "bridge"} <= set(out.split())
