"""kube-state-metrics may list and watch every resource it is told to watch, and watches what upstream enables."""

from __future__ import annotations

from typing import Any

from conftest import Rendered, find
from promstack.components import kube_state_metrics
from promstack.config import versions

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
        assert watched == UPSTREAM_DEFAULTS[versions.KUBE_STATE_METRICS.tag]
        listable = _listable(find(rendered, cluster, "ClusterRole", "monitoring-kube-state-metrics"))
        uncovered = sorted(r for r in watched if not any(resource == r for _, resource in listable))
        assert not uncovered, f"{cluster}: kube-state-metrics watches {uncovered} without list/watch"
        # Each under the API group that serves it, and nothing granted that is not watched.
        assert listable == {(group, r) for group, resources in kube_state_metrics.ENABLED_RESOURCES.items()
                            for r in resources}


def test_the_admission_policy_resources_are_granted_in_their_api_group(rendered: list[Rendered]) -> None:
    listable = _listable(find(rendered, "demo", "ClusterRole", "monitoring-kube-state-metrics"))
    for resource in ("validatingadmissionpolicies", "validatingadmissionpolicybindings",
                     "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"):
        assert ("admissionregistration.k8s.io", resource) in listable
