"""Agent mode and the fleet's hub: scrape and forward only, query the central store instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cdk8s
import promql_parser
import pytest
import yaml

from conftest import CLUSTERS, Rendered, find
from promstack.components.prometheus import Prometheus
from promstack.config.cluster import PrometheusConfig
from promstack.config.model import ConfigError
from promstack.content.catalog import render_grafana_query
from promstack.content.dashboards.fleet import scope
from promstack.gitops.synth import synth
from promstack.validate import validate_paths

MIMIR = {"name": "mimir", "url": "https://mimir.example.com/api/v1/push", "headers": {"X-Scope-OrgID": "platform"}}
HUB = ("hub:\n  queryUrl: https://mimir.example.com/prometheus\n  headers: {X-Scope-OrgID: platform}\n"
       "  bearerTokenSecret: hub-token\n")


def agent_objects() -> list[dict[str, Any]]:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    Prometheus(chart, settings=PrometheusConfig.model_validate({"mode": "agent", "remoteWrite": [MIMIR]}))
    return list(chart.to_json())


def test_an_agent_keeps_a_wal_only_and_neither_rules_nor_alerts() -> None:
    objects = agent_objects()
    [sts] = [o for o in objects if o["kind"] == "StatefulSet"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "--agent"
    assert "--storage.agent.path=/prometheus" in container["args"]
    assert not [a for a in container["args"] if a.startswith("--storage.tsdb")]
    assert "volumeClaimTemplates" not in sts["spec"]
    [data] = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "data"]
    assert data["emptyDir"] == {"sizeLimit": "2Gi"}
    assert not [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus-rules"]
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus-config"]
    config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    assert "rule_files" not in config and "alerting" not in config and config["remote_write"][0]["name"] == "mimir"


def test_the_gate_checks_an_agent_as_an_agent(tmp_path: Path) -> None:
    objects = agent_objects()
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus-config"]
    (tmp_path / "good.yaml").write_text(yaml.safe_dump_all(objects))
    assert validate_paths([tmp_path / "good.yaml"]) == []
    config_map["data"]["prometheus.yml"] += (
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [a:9093]\n")
    (tmp_path / "good.yaml").unlink()
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump_all(objects))
    [finding] = validate_paths([tmp_path / "bad.yaml"])
    assert "field alerting is not allowed in agent mode" in finding.message


def agent_fleet(tmp_path: Path, fleet_extra: str = "") -> Path:
    clusters = tmp_path / "clusters"
    shutil.copytree(CLUSTERS / "prod-example", clusters / "prod")
    fleet = yaml.safe_load((CLUSTERS / "fleet.yaml").read_text())
    fleet.pop("hub")  # the shipped hub has no credentials; the tests give their own, or none
    (clusters / "fleet.yaml").write_text(yaml.safe_dump(fleet) + fleet_extra)
    spec = yaml.safe_load((clusters / "prod" / "cluster.yaml").read_text())
    spec["prometheus"]["mode"] = "agent"
    (clusters / "prod" / "cluster.yaml").write_text(yaml.safe_dump(spec))
    return clusters


def test_synth_refuses_an_agent_without_a_hub_for_the_adapter(tmp_path: Path) -> None:
    clusters = agent_fleet(tmp_path)
    with pytest.raises(ConfigError) as caught:
        synth(clusters, tmp_path / "out")
    assert caught.value.problems == [
        f"{clusters / 'prod' / 'cluster.yaml'}: prometheus.mode: agent keeps no TSDB to query, and prometheus-adapter "
        "needs one; name the fleet's store in clusters/fleet.yaml (hub.queryUrl), or use mode server"]
    assert not (tmp_path / "out" / "clusters").exists()


def test_synth_refuses_an_agent_whose_autoscalers_are_keda_scaled_objects(tmp_path: Path) -> None:
    """KEDA's triggers query the stack's own Prometheus, which an agent does not serve."""
    clusters = agent_fleet(tmp_path, HUB)
    spec = yaml.safe_load((clusters / "prod" / "cluster.yaml").read_text())
    spec["autoscaling"] = {"provider": "keda"}
    del spec["prometheus"]["exposure"]  # in-cluster only: KEDA reads Prometheus without a login
    (clusters / "prod" / "cluster.yaml").write_text(yaml.safe_dump(spec))
    (clusters / "prod" / "prometheus-web-auth.sealedsecret.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        synth(clusters, tmp_path / "out")
    assert caught.value.problems == [
        f"{clusters / 'prod' / 'cluster.yaml'}: prometheus.mode: agent keeps no TSDB to query, and KEDA's "
        "ScaledObjects query this stack's Prometheus; use mode server with provider keda, or provider "
        "prometheus-adapter, which queries the fleet's hub"]
    assert not (tmp_path / "out" / "clusters").exists()


def test_a_hub_credential_missing_from_the_cluster_names_the_seal_command(tmp_path: Path) -> None:
    clusters = agent_fleet(tmp_path, HUB)
    with pytest.raises(ConfigError) as caught:
        synth(clusters, tmp_path / "out")
    [problem] = caught.value.problems
    assert problem.endswith("fleet-hub.sealedsecret.yaml: (file): missing; hub in clusters/fleet.yaml name the "
                            "sealed keys hub-token; run `promstack seal --cluster prod --name fleet-hub --from-file "
                            "hub-token=<file>`")


@pytest.fixture(scope="module")
def agent_render(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """prod-example in agent mode, with a hub and its sealed token, rendered once."""
    from promstack.certs.sealing import load_sealing_cert, sealed_secret_manifest
    from promstack.config.yamlio import dump

    tmp_path = tmp_path_factory.mktemp("agent")
    clusters = agent_fleet(tmp_path, HUB)
    cert = load_sealing_cert((clusters / "prod" / "sealing-cert.pem").read_bytes(), "sealing-cert.pem")
    manifest = sealed_secret_manifest(cert, name="fleet-hub", namespace="monitoring", data={"hub-token": b"t"},
                                      scope="strict")
    (clusters / "prod" / "fleet-hub.sealedsecret.yaml").write_text(dump(manifest))
    synth(clusters, tmp_path / "out")
    folder = tmp_path / "out" / "clusters" / "prod"
    assert validate_paths([folder]) == []  # the gate, promtool --agent included
    return {path.stem: [o for o in yaml.safe_load_all(path.read_text()) if o] for path in folder.glob("*.yaml")}


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_the_adapter_of_an_agent_asks_the_hub_for_its_own_cluster_only(
        agent_render: dict[str, list[dict[str, Any]]]) -> None:
    adapter = agent_render["prometheus-adapter"]
    container = one(adapter, "Deployment", "prometheus-adapter")["spec"]["template"]["spec"]["containers"][0]
    assert "--prometheus-url=https://mimir.example.com/prometheus/" in container["args"]
    assert "--prometheus-header=X-Scope-OrgID=platform" in container["args"]
    assert "--prometheus-token-file=/etc/fleet-hub/hub-token" in container["args"]
    rules = yaml.safe_load(one(adapter, "ConfigMap", "prometheus-adapter-config")["data"]["config.yaml"])["rules"]
    for rule in rules:
        assert '{cluster="prod",' in rule["seriesQuery"], rule
        assert '<<.LabelMatchers>>,cluster="prod"' in rule["metricsQuery"], rule


def test_grafana_of_an_agent_reads_the_hub_with_its_sealed_token(agent_render: dict[str, list[dict[str, Any]]]) -> None:
    grafana = agent_render["grafana"]
    sources = yaml.safe_load(one(grafana, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"])
    [default] = [s for s in sources["datasources"] if s.get("isDefault")]
    assert default["uid"] == "prometheus" and default["url"] == "https://mimir.example.com/prometheus"
    headers = {default["jsonData"][f"httpHeaderName{i}"]: default["secureJsonData"][f"httpHeaderValue{i}"]
               for i in (1, 2)}
    assert headers == {"Authorization": "Bearer $__file{/etc/fleet-hub/hub-token}",
                       "X-Scope-OrgID": "platform"}
    pod = one(grafana, "Deployment", "grafana")["spec"]["template"]["spec"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "fleet-hub", "mountPath": "/etc/fleet-hub", "readOnly": True} in mounts
    assert one(grafana, "SealedSecret", "fleet-hub")["spec"]["encryptedData"]["hub-token"].startswith("Ag")


def test_an_agent_cluster_s_dashboards_open_on_its_own_cluster(agent_render: dict[str, list[dict[str, Any]]]) -> None:
    data = one(agent_render["grafana"], "ConfigMap", "grafana-dashboards")["data"]
    for text in data.values():
        [cluster] = [v for v in json.loads(text)["templating"]["list"] if v["name"] == "cluster"]
        assert cluster["current"]["value"] == "prod"


def test_every_cluster_gets_the_fleet_datasource_and_a_cluster_variable(rendered: list[Rendered]) -> None:
    for name in ("demo", "prod-example"):
        sources = yaml.safe_load(find(rendered, name, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"])
        [fleet] = [s for s in sources["datasources"] if s["uid"] == "fleet"]
        assert fleet["url"] == "https://mimir.example.com/prometheus" and not fleet["isDefault"]
        assert (fleet["jsonData"]["httpHeaderName1"], fleet["secureJsonData"]["httpHeaderValue1"]) == \
            ("X-Scope-OrgID", "platform")
        for text in find(rendered, name, "ConfigMap", "grafana-dashboards")["data"].values():
            model = json.loads(text)
            [cluster] = [v for v in model["templating"]["list"] if v["name"] == "cluster"]
            assert (cluster["query"], cluster["allValue"], cluster["current"]["value"]) == \
                ("label_values(up, cluster)", ".*", "$__all")
            for panel in model["panels"]:
                for target in panel.get("targets", []):
                    for selector in selectors(target["expr"]):
                        assert 'cluster=~"$cluster"' in selector, (model["uid"], target["expr"])


def selectors(expr: str) -> list[str]:
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(str(node))

    promql_parser.walk(promql_parser.parse(render_grafana_query(expr)), visit)
    assert found, expr
    return found


@pytest.mark.parametrize(("expr", "scoped"), [
    ("up", 'up{cluster=~"$cluster"}'),
    ('sum by (job) (rate(x_total{a="b"}[$__rate_interval]))',
     'sum by (job) (rate(x_total{cluster=~"$cluster",a="b"}[$__rate_interval]))'),
    ('{__name__=~"go_.*"}', '{cluster=~"$cluster",__name__=~"go_.*"}'),
    ("a / on (instance) group_left (nodename) b{}", 'a{cluster=~"$cluster"} / on (cluster, instance) '
     'group_left (nodename) b{cluster=~"$cluster"}'),
    ('count(x{label="up"})', 'count(x{cluster=~"$cluster",label="up"})'),  # a name inside a string stays
])
def test_scoping_adds_the_matcher_to_every_selector_and_nothing_else(expr: str, scoped: str) -> None:
    assert scope(expr, "cluster", "cluster") == scoped
