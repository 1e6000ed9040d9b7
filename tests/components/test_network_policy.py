"""NetworkPolicies: made from the wiring, default deny, UI peers from the Service type, opt-in egress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest

from conftest import Rendered
from promstack.components import KubeStateMetrics, Prometheus
from promstack.components.network import Peer
from promstack.config.cluster import ClusterConfig, parse_spec
from promstack.config.inputs import ClusterInputs
from promstack.stack import MonitoringStack
from promstack.validate.loader import Document
from promstack.validate.reachability import check_reachability, flow_report

PROMETHEUS = {"app.kubernetes.io/instance": "net", "app.kubernetes.io/name": "prometheus"}


def render(spec: dict[str, Any]) -> list[dict[str, Any]]:
    data = {"adapter": {"tls": {"mode": "self-signed"}}, **spec}
    cluster = ClusterConfig(name="net", path=Path("clusters/net"), spec=parse_spec(data, "cluster.yaml"))
    app = cdk8s.App()
    MonitoringStack(app, cluster=cluster, inputs=ClusterInputs())
    return [obj for chart in app.charts for obj in chart.to_json()]


def policies(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["spec"]
            for o in objects if o["kind"] == "NetworkPolicy"}


def ingress_peers(spec: dict[str, Any], port: str) -> list[dict[str, Any]]:
    return [peer for rule in spec.get("ingress", []) for peer in rule["from"]
            if any(p["port"] == port for p in rule["ports"])]


def as_documents(objects: list[dict[str, Any]]) -> list[Document]:
    return [Document(file="rendered.yaml", index=i, obj=o) for i, o in enumerate(objects)]


def test_every_namespace_with_pods_denies_ingress_by_default(rendered: list[Rendered]) -> None:
    for cluster in ("demo", "prod-example"):
        objects = [r for r in rendered if r.cluster == cluster]
        pod_namespaces = {r.namespace for r in objects if r.kind in ("Deployment", "StatefulSet", "DaemonSet")}
        denying = {r.namespace for r in objects if r.kind == "NetworkPolicy" and r.name == "default-deny"
                   and r.obj["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}}
        assert pod_namespaces == denying, cluster
    assert {"monitoring", "promstack-example"} <= {r.namespace for r in rendered if r.cluster == "demo"}


def test_each_component_admits_exactly_what_the_wiring_connects_to_it() -> None:
    specs = policies(render({"alertmanager": {"replicas": 2}, "exampleApp": {"enabled": True}}))
    grafana = {"app.kubernetes.io/instance": "net", "app.kubernetes.io/name": "grafana"}
    adapter = {"app.kubernetes.io/instance": "net", "app.kubernetes.io/name": "prometheus-adapter"}
    alertmanager = {"app.kubernetes.io/instance": "net", "app.kubernetes.io/name": "alertmanager"}
    assert ingress_peers(specs["monitoring/kube-state-metrics"], "http-metrics") == [
        {"podSelector": {"matchLabels": PROMETHEUS}}]
    assert ingress_peers(specs["monitoring/alertmanager"], "web") == [
        {"podSelector": {"matchLabels": PROMETHEUS}}, {"podSelector": {"matchLabels": grafana}}]
    for mesh in ("mesh-tcp", "mesh-udp"):
        assert ingress_peers(specs["monitoring/alertmanager"], mesh) == [{"podSelector": {"matchLabels": alertmanager}}]
    # The adapter queries Prometheus; Grafana's datasource too; the NodePort UI is open (below).
    assert ingress_peers(specs["monitoring/prometheus"], "web")[:2] == [
        {"podSelector": {"matchLabels": adapter}}, {"podSelector": {"matchLabels": grafana}}]
    # Scraped by the adapter's own scrape job, called by the API server (from anywhere by default).
    assert ingress_peers(specs["monitoring/prometheus-adapter"], "https") == [
        {"podSelector": {"matchLabels": PROMETHEUS}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
    # podinfo lives in its own namespace: Prometheus is named by namespace and labels in one peer.
    assert ingress_peers(specs["promstack-example/podinfo"], "http") == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
         "podSelector": {"matchLabels": PROMETHEUS}}]
    # node-exporter joins the host network, where NetworkPolicies do not apply: none is rendered.
    assert "monitoring/node-exporter" not in specs


def test_ui_peers_default_to_anywhere_only_for_node_port_services() -> None:
    objects = render({"grafana": {"exposure": {"type": "nodePort"}},
                      "prometheus": {"exposure": {"type": "nodePort", "auth": "none"}}})
    services = {o["metadata"]["name"]: o["spec"].get("type", "ClusterIP") for o in objects if o["kind"] == "Service"}
    specs = policies(objects)
    anywhere = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
    assert services["grafana"] == "NodePort" and ingress_peers(specs["monitoring/grafana"], "http") == anywhere
    assert services["prometheus"] == "NodePort"
    assert ingress_peers(specs["monitoring/prometheus"], "web")[-2:] == anywhere
    assert services["alertmanager"] == "ClusterIP"
    assert not any("ipBlock" in p for p in ingress_peers(specs["monitoring/alertmanager"], "web"))


def test_configured_ui_peers_replace_the_default() -> None:
    specs = policies(render({"networkPolicy": {"uiPeers": {
        "grafana": [{"namespace": "ingress-nginx", "podLabels": {"app.kubernetes.io/name": "ingress-nginx"}}],
        "prometheus": [], "alertmanager": [{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}]}}}))
    assert ingress_peers(specs["monitoring/grafana"], "http") == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}]
    assert not any("ipBlock" in p for p in ingress_peers(specs["monitoring/prometheus"], "web"))
    assert {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}} in ingress_peers(
        specs["monitoring/alertmanager"], "web")


def test_api_server_cidrs_replace_anywhere_for_the_adapter() -> None:
    specs = policies(render({"networkPolicy": {"apiServerCidrs": ["192.168.10.0/28"]}}))
    assert ingress_peers(specs["monitoring/prometheus-adapter"], "https")[1:] == [
        {"ipBlock": {"cidr": "192.168.10.0/28"}}]


def test_disabled_renders_no_network_policy() -> None:
    assert not policies(render({"networkPolicy": {"enabled": False}}))


EGRESS = {"networkPolicy": {"apiServerCidrs": ["192.168.10.0/28"], "nodeCidrs": ["192.168.0.0/20"],
                            "egress": {"enabled": True}},
          "alertmanager": {"replicas": 2}, "exampleApp": {"enabled": True},
          "prometheus": {"controlPlane": {"etcd": {"enabled": True}}}}


def test_egress_opens_dns_the_api_server_the_nodes_and_the_wired_connections_only() -> None:
    objects = render(EGRESS)
    specs = policies(objects)
    for namespace in ("monitoring", "promstack-example"):
        assert specs[f"{namespace}/default-deny"]["policyTypes"] == ["Ingress", "Egress"]
        [dns] = specs[f"{namespace}/allow-dns"]["egress"]
        assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
        assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                              "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    prometheus = specs["monitoring/prometheus"]
    assert prometheus["policyTypes"] == ["Ingress", "Egress"]
    nodes = {"ipBlock": {"cidr": "192.168.0.0/20"}}
    to_nodes = {r["ports"][0]["port"] for r in prometheus["egress"] if nodes in r["to"]}
    assert to_nodes == {9100, 10250, 2381}  # node-exporter (host network), kubelet, etcd
    grafana = specs["monitoring/grafana"]["egress"]
    assert {r["ports"][0]["port"] for r in grafana} == {9090, 9093}
    kube_state_metrics = specs["monitoring/kube-state-metrics"]["egress"]
    assert all(r["to"] == [{"ipBlock": {"cidr": "192.168.10.0/28"}}] for r in kube_state_metrics)
    # Every flow the rendered stack needs is still allowed, egress included.
    documents = as_documents(objects)
    assert check_reachability(documents) == []
    report = flow_report(documents)
    assert any("prometheus-adapter to StatefulSet/monitoring/prometheus port 9090/TCP (web): allowed" in line
               for line in report)


def test_egress_without_a_wired_connection_is_blocked_by_the_check() -> None:
    objects = render(EGRESS)
    for obj in objects:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "grafana":
            obj["spec"]["egress"] = [r for r in obj["spec"]["egress"] if r["ports"][0]["port"] != 9093]
    [finding] = check_reachability(as_documents(objects))
    assert (finding.kind, finding.name) == ("Deployment", "grafana")
    assert finding.message.startswith("flow from Deployment/monitoring/grafana to StatefulSet/monitoring/alertmanager "
                                      "port 9093/TCP (web) is blocked: no egress rule")


def test_allow_from_names_a_port_the_pods_have() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    kube_state_metrics = KubeStateMetrics(chart)
    prometheus = Prometheus(chart, kube_state_metrics=kube_state_metrics)
    assert [(c.target, c.port_name) for c in prometheus.connections] == [(kube_state_metrics, "http-metrics")]
    with pytest.raises(ValueError, match="KubeStateMetrics 'kube-state-metrics' has no container port named 'metrics'"):
        kube_state_metrics.allow_from(prometheus, "metrics")
    kube_state_metrics.allow_from(Peer.namespace("tools"), "telemetry")
    [policy] = [o for o in chart.to_json() if o["kind"] == "NetworkPolicy"]
    assert policy["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tools"}}}],
        "ports": [{"port": "telemetry", "protocol": "TCP"}]}]


def test_policies_sync_before_the_pods_they_protect(rendered: list[Rendered]) -> None:
    def wave(r: Rendered) -> int:
        return int(r.obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])

    policy_waves = {wave(r) for r in rendered if r.kind == "NetworkPolicy"}
    workload_waves = {wave(r) for r in rendered if r.kind in ("Deployment", "StatefulSet", "DaemonSet")}
    assert policy_waves and max(policy_waves) < min(workload_waves)


def test_an_annotation_scrape_needs_the_annotations_on_the_pods() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    kube_state_metrics = KubeStateMetrics(chart)
    prometheus = Prometheus(chart)
    with pytest.raises(ValueError, match=r"'kube-state-metrics' is scraped through its pod annotations, which must "
                                         r"say prometheus.io/scrape \"true\" and prometheus.io/port \"8080\""):
        prometheus.scrape_annotated(kube_state_metrics, "http-metrics")
    assert prometheus.connections == []


def test_keda_operator_may_query_prometheus_only_where_scaled_objects_are_rendered(
        rendered: list[Rendered]) -> None:
    from conftest import find

    keda_operator = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
                     "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}}}

    def peers(cluster: str) -> list[dict[str, Any]]:
        policy = find(rendered, cluster, "NetworkPolicy", "prometheus")
        return [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]

    assert keda_operator in peers("keda-example")
    assert keda_operator not in peers("demo")
    assert keda_operator not in peers("prod-example")
