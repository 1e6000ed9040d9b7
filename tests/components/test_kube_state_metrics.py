"""kube-state-metrics may list and watch every resource it is told to watch, and watches what upstream
enables, Secrets only when cluster.yaml asks for them."""

from __future__ import annotations

from typing import Any

from cdk8s import App, Chart

from conftest import Rendered, find
from promstack.components import kube_state_metrics
from promstack.components.kube_state_metrics import KubeStateMetrics
from promstack.config import versions
from promstack.config.cluster import KubeStateMetricsConfig

#: kube-state-metrics v2.20.0's pkg/options/resource.go DefaultResources, as released (the
#: ValidatingAdmissionPolicy(Binding) and MutatingAdmissionPolicy(Binding) collectors are new in
#: v2.20: #3014, #3019). Spelled here on its own, not derived from the component.
UPSTREAM_DEFAULTS = {
    "v2.20.0": frozenset({
        "certificatesigningrequests", "configmaps", "cronjobs", "daemonsets", "deployments", "endpointslices",
        "horizontalpodautoscalers", "ingresses", "jobs", "leases", "limitranges", "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings", "mutatingwebhookconfigurations", "namespaces", "networkpolicies", "nodes",
        "persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets", "pods", "replicasets",
        "replicationcontrollers", "resourcequotas", "secrets", "services", "statefulsets", "storageclasses",
        "validatingadmissionpolicies", "validatingadmissionpolicybindings", "validatingwebhookconfigurations",
        "volumeattachments",
    }),
}


def _watched(deployment: dict[str, Any]) -> set[str]:
    """What kube-state-metrics lists and watches: ``--resources``, or without it the image's defaults."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    flags = [arg.removeprefix("--resources=") for arg in container["args"] if arg.startswith("--resources=")]
    if not flags:
        return set(UPSTREAM_DEFAULTS[container["image"].rsplit(":", 1)[1]])
    [flag] = flags
    return set(flag.split(","))


def _listable(cluster_role: dict[str, Any]) -> set[tuple[str, str]]:
    """(API group, resource) pairs the ClusterRole allows both list and watch on."""
    return {(group, resource) for rule in cluster_role["rules"] if {"list", "watch"} <= set(rule["verbs"])
            for group in rule.get("apiGroups", []) for resource in rule.get("resources", [])}


def test_the_enabled_resources_are_the_pinned_versions_defaults() -> None:
    tag = versions.KUBE_STATE_METRICS.tag
    assert tag in UPSTREAM_DEFAULTS, (
        f"kube-state-metrics {tag}: compare its DefaultResources with ENABLED_RESOURCES and record them here")
    enabled = [resource for resources in kube_state_metrics.ENABLED_RESOURCES.values() for resource in resources]
    assert len(enabled) == len(set(enabled)), "a resource listed under two API groups"
    assert set(enabled) == UPSTREAM_DEFAULTS[tag]


def test_every_watched_resource_is_covered_by_the_cluster_role(rendered: list[Rendered]) -> None:
    for cluster in ("demo", "prod-example"):
        watched = _watched(find(rendered, cluster, "Deployment", "kube-state-metrics"))
        assert watched == UPSTREAM_DEFAULTS[versions.KUBE_STATE_METRICS.tag] - {"secrets"}
        listable = _listable(find(rendered, cluster, "ClusterRole", "monitoring-kube-state-metrics"))
        uncovered = sorted(r for r in watched if not any(resource == r for _, resource in listable))
        assert not uncovered, f"{cluster}: kube-state-metrics watches {uncovered} without list/watch"
        # Each under the API group that serves it, and nothing granted that is not watched.
        assert listable == {(group, r) for group, resources in kube_state_metrics.ENABLED_RESOURCES.items()
                            for r in resources if r != "secrets"}


def test_the_admission_policy_resources_are_granted_in_their_api_group(rendered: list[Rendered]) -> None:
    listable = _listable(find(rendered, "demo", "ClusterRole", "monitoring-kube-state-metrics"))
    for resource in ("validatingadmissionpolicies", "validatingadmissionpolicybindings",
                     "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"):
        assert ("admissionregistration.k8s.io", resource) in listable


def _render(settings: KubeStateMetricsConfig) -> tuple[set[str], set[tuple[str, str]]]:
    chart = Chart(App(), "ksm", disable_resource_name_hashes=True)
    KubeStateMetrics(chart, settings=settings)
    objects = {o["kind"]: o for o in chart.to_json()}
    return _watched(objects["Deployment"]), _listable(objects["ClusterRole"])


def test_secrets_are_neither_watched_nor_readable_by_default(rendered: list[Rendered]) -> None:
    for cluster in ("demo", "prod-example"):
        assert "secrets" not in _watched(find(rendered, cluster, "Deployment", "kube-state-metrics"))
        role = find(rendered, cluster, "ClusterRole", "monitoring-kube-state-metrics")
        granted = {r for rule in role["rules"] for r in rule.get("resources", [])}
        assert "secrets" not in granted, f"{cluster}: kube-state-metrics may read Secrets"


def test_secret_metrics_opts_in_to_watching_and_reading_secrets() -> None:
    watched, listable = _render(KubeStateMetricsConfig.model_validate({"secretMetrics": True}))
    assert watched == UPSTREAM_DEFAULTS[versions.KUBE_STATE_METRICS.tag]
    assert ("", "secrets") in listable
    assert {r for _, r in listable} == watched
    watched, listable = _render(KubeStateMetricsConfig())
    assert "secrets" not in watched and ("", "secrets") not in listable


def test_no_built_in_rule_or_dashboard_needs_secret_metrics(rendered: list[Rendered]) -> None:
    """kube_secret_* exist only with secretMetrics: the shipped content must not depend on them."""
    users = [str(r) for r in rendered
             if r.kind in {"ConfigMap", "PrometheusRule"} and "kube_secret_" in str(r.obj)]
    assert not users, f"content uses kube_secret_* metrics, which are off by default: {users}"
