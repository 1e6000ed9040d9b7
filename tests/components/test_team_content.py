"""A team's rule files and dashboards, rendered beside the built-in ones and checked by the gate."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from conftest import Rendered, find
from promstack.components import Grafana, Prometheus
from promstack.components.base import MAX_CONFIG_MAP_BYTES
from promstack.config.cluster import ClusterConfig, parse_spec
from promstack.config.inputs import ClusterInputs
from promstack.stack import MonitoringStack
from promstack.validate import validate_paths

RULES = "groups:\n  - name: shop.rules\n    rules:\n      - record: job:shop_orders:rate5m\n" \
        "        expr: sum by (job) (rate(shop_orders_total[5m]))\n"
DASHBOARD = '{"uid": "shop", "title": "Shop", "panels": []}\n'


def render(inputs: ClusterInputs) -> dict[str, dict[str, Any]]:
    cluster = ClusterConfig(name="shop", path=Path("clusters/shop"),
                            spec=parse_spec({"adapter": {"tls": {"mode": "self-signed"}}}, "cluster.yaml"))
    app = cdk8s.App()
    MonitoringStack(app, cluster=cluster, inputs=inputs)
    return {f"{o['kind']}/{o['metadata']['name']}": o for chart in app.charts for o in chart.to_json()}


def test_team_rule_files_join_the_rules_configmap_the_glob_loads_without_a_restart() -> None:
    base = render(ClusterInputs())
    team = render(ClusterInputs(team_rule_files={"shop.rules.yaml": RULES}))
    data = team["ConfigMap/prometheus-rules"]["data"]
    assert list(data) == ["alerts.rules.yaml", "recording.rules.yaml", "shop.rules.yaml"]
    assert data["shop.rules.yaml"] == RULES
    # The StatefulSet stays as it was: Prometheus reloads the new file, the pod does not roll.
    assert team["StatefulSet/prometheus"] == base["StatefulSet/prometheus"]
    config = yaml.safe_load(team["ConfigMap/prometheus-config"]["data"]["prometheus.yml"])
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yaml"]


def test_team_dashboards_get_their_own_configmap_and_read_only_folder() -> None:
    assert "ConfigMap/grafana-team-dashboards" not in render(ClusterInputs())
    objects = render(ClusterInputs(team_dashboards={"shop.json": DASHBOARD}))
    assert objects["ConfigMap/grafana-team-dashboards"]["data"] == {"shop.json": DASHBOARD}
    providers = yaml.safe_load(objects["ConfigMap/grafana-dashboard-providers"]["data"]["promstack.yaml"])["providers"]
    team = next(p for p in providers if p["folder"] == "team")
    assert team["options"]["path"] == "/var/lib/grafana-dashboards-team"
    assert team["allowUiUpdates"] is False and team["disableDeletion"] is True
    pod = objects["Deployment/grafana"]["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "grafana-team-dashboards")
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert mount == {"mountPath": "/var/lib/grafana-dashboards-team", "name": volume["name"], "readOnly": True}


def test_the_constructs_refuse_what_would_not_load_or_fit() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    with pytest.raises(ValueError, match=r"must be named <name>\.rules\.yaml"):
        Prometheus(chart, "p1", extra_rule_files={"alerts.rules.yaml": RULES})
    with pytest.raises(ValueError, match=r"must be named <name>\.rules\.yaml"):
        Prometheus(chart, "p2", extra_rule_files={"shop.yaml": RULES})
    with pytest.raises(ValueError, match=r"ConfigMap 'p3-rules' would hold \d+ bytes, over the 1048576 \(1 MiB\)"):
        Prometheus(chart, "p3", extra_rule_files={"big.rules.yaml": "#" * MAX_CONFIG_MAP_BYTES})
    prometheus = Prometheus(chart, "p4")
    with pytest.raises(ValueError, match="ConfigMap 'g-team-dashboards' would hold"):
        Grafana(chart, "g", prometheus=prometheus, extra_dashboards={"big.json": " " * (MAX_CONFIG_MAP_BYTES + 1)})


def test_the_example_team_content_is_rendered_for_prod_example_only(rendered: list[Rendered]) -> None:
    rules = find(rendered, "prod-example", "ConfigMap", "prometheus-rules")["data"]
    assert "HttpErrorRateHigh" in rules["http.rules.yaml"]
    dashboards = find(rendered, "prod-example", "ConfigMap", "grafana-team-dashboards")["data"]
    assert list(dashboards) == ["http.json"]
    assert set(find(rendered, "demo", "ConfigMap", "prometheus-rules")["data"]) == {"alerts.rules.yaml",
                                                                                     "recording.rules.yaml"}
    assert not [r for r in rendered if r.cluster == "demo" and r.name == "grafana-team-dashboards"]


def test_the_gate_runs_promtool_on_team_rule_files(out_dir: Path, tmp_path: Path) -> None:
    """promtool in the gate checks a team file in the rules ConfigMap like the built-in ones."""
    folder = tmp_path / "clusters" / "prod-example"
    shutil.copytree(out_dir / "clusters" / "prod-example", folder)
    assert validate_paths([folder]) == []
    prometheus = folder / "prometheus.yaml"
    text = prometheus.read_text()
    broken = text.replace("expr: namespace:http_requests_errors:ratio_rate5m > 0.05",
                          "expr: namespace:http_requests_errors:ratio_rate5m > 0.05\n        for: 5 minutes")
    assert broken != text
    prometheus.write_text(broken)
    findings = validate_paths([folder])
    assert [(f.name, f.path, f.check) for f in findings] == [("prometheus-rules", 'data["http.rules.yaml"]',
                                                               "promtool")]
    assert "promtool check rules" in findings[0].message
