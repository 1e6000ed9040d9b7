"""One scrape job owns each target: the rendered relabelling, run the way Prometheus runs it.

Kubernetes service discovery needs an API server, so no Prometheus binary can run these jobs here.
Instead a small evaluator applies ``relabel_configs`` with Prometheus' semantics
(model/relabel/relabel.go): source label values joined by ``separator`` (missing labels are empty),
the regex fully anchored (``^(?s:regex)$``), ``keep``/``drop`` on a match, and ``replace`` expanding
``$1``/``${1}`` Go-style into ``target_label`` and deleting the label when the result is empty. It
runs over target label sets shaped as Prometheus' endpointslice and pod roles build them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml

from conftest import Rendered, find
from relabel import Labels, relabel

# --- the evaluator against Prometheus' documented behaviour ---------------------------------------------


def test_regexes_are_fully_anchored() -> None:
    keep_true = [{"source_labels": ["a"], "action": "keep", "regex": "true"}]
    assert relabel({"a": "true"}, keep_true) == {"a": "true"}
    assert relabel({"a": "true-ish"}, keep_true) is None
    assert relabel({"a": "untrue"}, keep_true) is None
    assert relabel({}, keep_true) is None  # a missing label is the empty string
    drop_phase = [{"source_labels": ["p"], "action": "drop", "regex": "Pending|Failed"}]
    assert relabel({"p": "Running"}, drop_phase) == {"p": "Running"}
    assert relabel({"p": "Failed"}, drop_phase) is None


def kept(labels: Mapping[str, str], configs: Sequence[Mapping[str, Any]]) -> Labels:
    result = relabel(labels, configs)
    assert result is not None, "the target was dropped"
    return result


def test_replace_joins_sources_expands_groups_and_deletes_on_empty() -> None:
    port = {"source_labels": ["__address__", "port"], "action": "replace", "regex": r"(.+?)(?::\d+)?;(\d+)",
            "replacement": "$1:$2", "target_label": "__address__"}
    assert kept({"__address__": "10.0.0.5:8080", "port": "9898"}, [port])["__address__"] == "10.0.0.5:9898"
    assert kept({"__address__": "10.0.0.5", "port": "9898"}, [port])["__address__"] == "10.0.0.5:9898"
    assert kept({"__address__": "10.0.0.5:8080"}, [port])["__address__"] == "10.0.0.5:8080"  # no match
    copy = {"source_labels": ["x"], "target_label": "y"}  # action replace, regex (.*), replacement $1
    assert relabel({"x": "v", "y": "old"}, [copy]) == {"x": "v", "y": "v"}
    assert relabel({"y": "old"}, [copy]) == {}  # empty result deletes the target label
    go_names = {"source_labels": ["x"], "regex": "(a)(b)", "target_label": "y", "replacement": "$1x-${2}x-$$"}
    assert kept({"x": "ab"}, [go_names])["y"] == "-bx-$"  # $1x is the (missing) group named 1x
    with pytest.raises(NotImplementedError, match="hashmod"):
        relabel({}, [{"action": "hashmod", "source_labels": ["x"], "modulus": 2, "target_label": "y"}])


# --- target label sets as Prometheus' Kubernetes service discovery builds them --------------------------


def _annotations(kind: str, annotations: Mapping[str, str]) -> Labels:
    labels: Labels = {}
    for key, value in annotations.items():
        name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
        labels[f"__meta_kubernetes_{kind}_annotation_{name}"] = value
        labels[f"__meta_kubernetes_{kind}_annotationpresent_{name}"] = "true"
    return labels


POD_IP, CONTAINER_PORT = "10.1.2.3", "8080"


def _pod_meta(pod_annotations: Mapping[str, str]) -> Labels:
    return {
        "__meta_kubernetes_namespace": "shop",
        "__meta_kubernetes_pod_name": "web-7d4b9",
        "__meta_kubernetes_pod_ip": POD_IP,
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": "node-1",
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_container_name": "web",
        "__meta_kubernetes_pod_container_port_name": "http",
        "__meta_kubernetes_pod_container_port_number": CONTAINER_PORT,
        "__meta_kubernetes_pod_container_port_protocol": "TCP",
        **_annotations("pod", pod_annotations),
    }


def pod_role_target(pod_annotations: Mapping[str, str]) -> Labels:
    """role: pod, one target per container port."""
    return {"__address__": f"{POD_IP}:{CONTAINER_PORT}", **_pod_meta(pod_annotations)}


def endpointslice_role_target(pod_annotations: Mapping[str, str], service_annotations: Mapping[str, str]) -> Labels:
    """role: endpointslice, an endpoint backed by that pod: the pod's metadata is attached."""
    return {
        "__address__": f"{POD_IP}:{CONTAINER_PORT}",
        "__meta_kubernetes_service_name": "web",
        "__meta_kubernetes_endpointslice_name": "web-x2k9q",
        "__meta_kubernetes_endpointslice_address_type": "IPv4",
        "__meta_kubernetes_endpointslice_address_target_kind": "Pod",
        "__meta_kubernetes_endpointslice_address_target_name": "web-7d4b9",
        "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
        "__meta_kubernetes_endpointslice_port": CONTAINER_PORT,
        "__meta_kubernetes_endpointslice_port_name": "http",
        "__meta_kubernetes_endpointslice_port_protocol": "TCP",
        **_annotations("service", service_annotations),
        **_pod_meta(pod_annotations),
    }


SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": "9898", "prometheus.io/path": "/metrics"}


def owners(jobs: list[dict[str, Any]], pod: Mapping[str, str], service: Mapping[str, str]) -> dict[str, Labels]:
    """Every job that keeps a target for the pod (through its own role or its Service's endpoints)."""
    keeping: dict[str, Labels] = {}
    for job in jobs:
        for sd in job.get("kubernetes_sd_configs", []):
            namespaces = sd.get("namespaces", {}).get("names")
            if namespaces is not None and "shop" not in namespaces:
                continue
            target = {"pod": pod_role_target(pod), "endpointslice": endpointslice_role_target(pod, service)}.get(
                sd["role"])
            if target is None:
                continue
            defaults = {"job": job["job_name"], "__scheme__": job.get("scheme", "http"),
                        "__metrics_path__": job.get("metrics_path", "/metrics")}
            result = relabel({**defaults, **target}, job.get("relabel_configs", []))
            if result is not None:
                keeping[job["job_name"]] = result
    return keeping


@pytest.fixture(scope="module")
def jobs(rendered: list[Rendered]) -> list[dict[str, Any]]:
    config = yaml.safe_load(find(rendered, "demo", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    scrape_configs: list[dict[str, Any]] = config["scrape_configs"]
    return scrape_configs


@pytest.mark.parametrize(
    ("pod", "service", "owner"),
    [
        (SCRAPE, {}, "kubernetes-pods"),
        ({}, SCRAPE, "kubernetes-service-endpoints"),
        (SCRAPE, SCRAPE, "kubernetes-pods"),
        # A pod that opts out keeps its Service's choice.
        ({"prometheus.io/scrape": "false"}, SCRAPE, "kubernetes-service-endpoints"),
        ({}, {}, None),
    ],
    ids=["annotated-pod-only", "annotated-service-only", "both-annotated", "pod-opts-out", "neither"],
)
def test_exactly_one_job_scrapes_an_annotated_pod(jobs: list[dict[str, Any]], pod: dict[str, str],
                                                  service: dict[str, str], owner: str | None) -> None:
    keeping = owners(jobs, pod, service)
    assert list(keeping) == ([owner] if owner else []), f"jobs keeping the target: {sorted(keeping)}"
    if owner:
        [labels] = keeping.values()
        assert labels["__address__"] == f"{POD_IP}:9898"  # the port annotation, not the container port
        assert (labels["namespace"], labels["pod"], labels["node"]) == ("shop", "web-7d4b9", "node-1")
