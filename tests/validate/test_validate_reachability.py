"""Reachability: the flows the rendered objects need, evaluated against their NetworkPolicies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from promstack.validate import Finding, validate_paths
from promstack.validate.loader import Document, load_units
from promstack.validate.reachability import (
    check_reachability,
    flow_report,
    index,
    needed_flows,
    policy_types,
    selector_matches,
)
from promstack.validate.report import format_line

FIX = Path(__file__).parent / "fixtures"
BLOCKED = ("flow from Deployment/monitoring/prometheus to Deployment/apps/web port 8080/TCP (metrics) is blocked: "
           "no ingress rule of NetworkPolicy apps/default-deny, apps/web admits it (scrape job web)")


def finding(name: str, message: str) -> Finding:
    return Finding(str(FIX / name / "manifests.yaml"), "Deployment", "apps", "web",
                   "spec.template.spec.containers[0].ports[1]", message, "reachability")


@pytest.mark.parametrize(("name", "hint"), [
    ("reachability-missing-allow", ""),
    ("reachability-port-name", "; a rule of apps/web names port 'metric', which no container of the "
                               "destination has"),
    ("reachability-namespace-selector", "; a namespaceSelector of apps/web matches no namespace of this unit"),
])
def test_each_broken_policy_blocks_exactly_the_scrape(name: str, hint: str) -> None:
    assert validate_paths([FIX / name], run_promtool=False) == [finding(name, BLOCKED + hint)]


def test_the_same_objects_with_working_policies_pass() -> None:
    assert validate_paths([FIX / "reachability-good"], run_promtool=False) == []
    [unit] = load_units([FIX / "reachability-good"])
    # The static localhost target stays on loopback: no flow. Egress allowed by an endPort range.
    assert flow_report(unit.objects) == [
        "flow from Deployment/monitoring/prometheus to Deployment/apps/web port 8080/TCP (metrics): allowed "
        "[scrape job web]"]


SHIPPED_FLOWS = {
    "demo": [
        "Deployment/monitoring/grafana to StatefulSet/monitoring/alertmanager port 9093/TCP (web)",
        "Deployment/monitoring/grafana to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "Deployment/monitoring/prometheus-adapter to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "StatefulSet/monitoring/prometheus to DaemonSet/monitoring/node-exporter port 9100/TCP (metrics)",
        "StatefulSet/monitoring/prometheus to Deployment/monitoring/kube-state-metrics port 8080/TCP (http-metrics)",
        "StatefulSet/monitoring/prometheus to Deployment/monitoring/prometheus-adapter port 6443/TCP (https)",
        "StatefulSet/monitoring/prometheus to Deployment/promstack-example/podinfo port 9898/TCP (http)",
        "StatefulSet/monitoring/prometheus to StatefulSet/monitoring/alertmanager port 9093/TCP (web)",
        "outside the cluster to Deployment/monitoring/grafana port 3000/TCP (http)",
        "outside the cluster to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "the API server to Deployment/monitoring/prometheus-adapter port 6443/TCP (https)",
    ],
    "prod-example": [
        "Deployment/monitoring/grafana to StatefulSet/monitoring/alertmanager port 9093/TCP (web)",
        "Deployment/monitoring/grafana to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "Deployment/monitoring/prometheus-adapter to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "StatefulSet/monitoring/alertmanager to StatefulSet/monitoring/alertmanager port 9094/TCP (mesh-tcp)",
        "StatefulSet/monitoring/alertmanager to StatefulSet/monitoring/alertmanager port 9094/UDP (mesh-udp)",
        "StatefulSet/monitoring/prometheus to DaemonSet/monitoring/node-exporter port 9100/TCP (metrics)",
        "StatefulSet/monitoring/prometheus to Deployment/monitoring/kube-state-metrics port 8080/TCP (http-metrics)",
        "StatefulSet/monitoring/prometheus to Deployment/monitoring/prometheus-adapter port 6443/TCP (https)",
        "StatefulSet/monitoring/prometheus to StatefulSet/monitoring/alertmanager port 9093/TCP (web)",
        "the API server to Deployment/monitoring/prometheus-adapter port 6443/TCP (https)",
        "the proxy of HTTPRoute monitoring/prometheus to StatefulSet/monitoring/prometheus port 9090/TCP (web)",
        "the proxy of Ingress monitoring/grafana to Deployment/monitoring/grafana port 3000/TCP (http)",
    ],
}


@pytest.mark.parametrize("cluster", sorted(SHIPPED_FLOWS))
def test_shipped_clusters_need_these_flows_and_their_policies_allow_every_one(out_dir: Path, cluster: str) -> None:
    [unit] = load_units([out_dir / "clusters" / cluster])
    assert check_reachability(unit.objects) == []
    cluster_index = index(unit.objects)
    flows = sorted(needed_flows(cluster_index), key=lambda f: (f.source_name, f.target.ref, f.port, f.protocol))
    assert [f.describe().removeprefix("flow from ") for f in flows] == SHIPPED_FLOWS[cluster]
    assert cluster_index.policies, "the shipped clusters render NetworkPolicies"


def test_removing_any_one_ingress_rule_of_a_shipped_cluster_blocks_a_flow(out_dir: Path) -> None:
    """Every rendered ingress rule is needed by some flow: none is dead weight the check cannot see."""
    [unit] = load_units([out_dir / "clusters" / "prod-example"])
    for doc in unit.objects:
        if doc.kind != "NetworkPolicy":
            continue
        for i in range(len(doc.spec.get("ingress", []))):
            spec = {**doc.spec, "ingress": [r for j, r in enumerate(doc.spec["ingress"]) if j != i]}
            changed = Document(doc.file, doc.index, {**doc.obj, "spec": spec})
            others = [changed if d is doc else d for d in unit.objects]
            assert check_reachability(others), f"{doc.name} ingress[{i}] removed, yet no flow is blocked"


# -- Kubernetes semantics, one rule at a time -------------------------------------------------------

@pytest.mark.parametrize(("selector", "matches"), [
    ({}, True),
    ({"matchLabels": {"app": "web"}}, True),
    ({"matchLabels": {"app": "db"}}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
    ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
])
def test_label_selectors(selector: dict[str, Any], matches: bool) -> None:
    assert selector_matches(selector, {"app": "web", "tier": "front"}) is matches


def doc(obj: dict[str, Any]) -> Document:
    return Document("policy.yaml", 0, obj)


def test_policy_types_default_to_ingress_plus_egress_when_it_has_egress_rules() -> None:
    assert policy_types(doc({"spec": {"podSelector": {}}})) == ["Ingress"]
    assert policy_types(doc({"spec": {"podSelector": {}, "egress": [{}]}})) == ["Ingress", "Egress"]
    assert policy_types(doc({"spec": {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}})) == ["Egress"]


def fixture_objects(edit: Any) -> list[Document]:
    [unit] = load_units([FIX / "reachability-good"])
    out = []
    for d in unit.objects:
        obj = edit(d.obj) or d.obj
        out.append(Document(d.file, d.index, obj))
    return out


def web_policy(mutate: Any) -> Any:
    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"] == {"name": "web", "namespace": "apps"}:
            import copy

            obj = copy.deepcopy(obj)
            mutate(obj["spec"])
            return obj
        return None

    return edit


@pytest.mark.parametrize(("mutate", "blocked"), [
    # A rule with no ports admits every port; with no peers, every source.
    (lambda s: s["ingress"][0].pop("ports"), False),
    (lambda s: s["ingress"][0].pop("from"), False),
    # By number, by a range (endPort), by the wrong protocol.
    (lambda s: s["ingress"][0].update(ports=[{"port": 8080}]), False),
    (lambda s: s["ingress"][0].update(ports=[{"port": 8070, "endPort": 8090}]), False),
    (lambda s: s["ingress"][0].update(ports=[{"port": 8070, "endPort": 8079}]), True),
    (lambda s: s["ingress"][0].update(ports=[{"port": "metrics", "protocol": "UDP"}]), True),
    # A pod selector alone names pods of the policy's own namespace (apps), not monitoring's.
    (lambda s: s["ingress"][0].update({"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name":
                                                                                    "prometheus"}}}]}), True),
    # Namespace labels of the unit's Namespace object count; so does the name label of any namespace.
    (lambda s: s["ingress"][0].update({"from": [{"namespaceSelector": {"matchLabels": {
        "app.kubernetes.io/name": "monitoring"}}}]}), False),
    (lambda s: s["ingress"][0].update({"from": [{"namespaceSelector": {}}]}), False),
    # Pod addresses are unknown: an ipBlock never admits a pod.
    (lambda s: s["ingress"][0].update({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}), True),
    # An Egress-only policy selecting web does not isolate it for ingress.
    (lambda s: s.update(policyTypes=["Egress"]), True),  # default-deny still isolates web
])
def test_ingress_rules(mutate: Any, blocked: bool) -> None:
    assert bool(check_reachability(fixture_objects(web_policy(mutate)))) is blocked


def test_a_pod_no_policy_selects_admits_everything() -> None:
    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["namespace"] == "apps":
            return {**obj, "spec": {**obj["spec"], "podSelector": {"matchLabels": {"app.kubernetes.io/name": "db"}}}}
        return None

    assert check_reachability(fixture_objects(edit)) == []


def test_egress_is_checked_on_the_source() -> None:
    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "prometheus":
            return {**obj, "spec": {**obj["spec"], "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
                "team": "billing"}}}]}]}}
        return None

    [blocked] = check_reachability(fixture_objects(edit))
    assert (blocked.kind, blocked.namespace, blocked.name, blocked.path) == (
        "Deployment", "monitoring", "prometheus", "spec.template")
    assert "is blocked: no egress rule of NetworkPolicy monitoring/default-deny, monitoring/prometheus" in (
        blocked.message)


def test_the_api_server_is_an_address_admitted_by_ip_blocks_only(out_dir: Path) -> None:
    [unit] = load_units([out_dir / "clusters" / "demo"])

    def only_pods(d: Document) -> Document:
        if d.kind == "NetworkPolicy" and d.name == "prometheus-adapter":
            spec = {**d.spec, "ingress": [{**r, "from": [p for p in r["from"] if "ipBlock" not in p]}
                                          for r in d.spec["ingress"]]}
            return Document(d.file, d.index, {**d.obj, "spec": spec})
        return d

    [blocked] = check_reachability([only_pods(d) for d in unit.objects])
    assert blocked.message.startswith("flow from the API server to Deployment/monitoring/prometheus-adapter port "
                                      "6443/TCP (https) is blocked")

    def whole_block_excepted(d: Document) -> Document:
        if d.kind == "NetworkPolicy" and d.name == "prometheus-adapter":
            spec = {**d.spec, "ingress": [{**r, "from": [
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}} if "ipBlock" in p else p
                for p in r["from"]]} for r in d.spec["ingress"]]}
            return Document(d.file, d.index, {**d.obj, "spec": spec})
        return d

    assert len(check_reachability([whole_block_excepted(d) for d in unit.objects])) == 1


def test_validate_flows_lists_every_flow_with_its_verdict() -> None:
    result = subprocess.run([sys.executable, "-m", "promstack.validate", "--skip-promtool", "--flows",
                             str(FIX / "reachability-port-name")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (f"{FIX / 'reachability-port-name'}: flow from Deployment/monitoring/prometheus to "
                        "Deployment/apps/web port 8080/TCP (metrics): BLOCKED at ingress [scrape job web]")
    assert lines[1].endswith("which no container of the destination has")


def test_a_finding_quotes_little_of_huge_names() -> None:
    huge = "x" * 70_000

    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "web":
            return {**obj, "metadata": {**obj["metadata"], "name": huge}, "spec": {**obj["spec"], "ingress": [
                {**obj["spec"]["ingress"][0], "ports": [{"port": huge}]}]}}
        if obj["kind"] == "ConfigMap":
            text = obj["data"]["prometheus.yml"].replace("job_name: web", f"job_name: {huge}")
            return {**obj, "data": {"prometheus.yml": text}}
        return None

    [blocked] = check_reachability(fixture_objects(edit))
    assert len(format_line(blocked)) < 650 and "x" * 81 not in format_line(blocked)
    assert all(len(line) < 700 for line in flow_report(fixture_objects(edit)))
