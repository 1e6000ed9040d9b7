"""The components as a cdk8s user reuses them: own props, ids as names, L1 objects exposed, no I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from promstack.components import Grafana, KubeStateMetrics, Namespace, NodeExporter, Prometheus, PrometheusAdapter
from promstack.components.base import StackContext
from promstack.config.cluster import PrometheusConfig
from promstack.config.exposure import ApiExposure
from promstack.config.versions import Image
from promstack.content.rules import JOBS


def objects(chart: cdk8s.Chart) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for obj in chart.to_json():
        key = f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        assert key not in out, f"two objects named {key}"
        out[key] = obj
    return out


def scrape_configs(chart_objects: dict[str, dict[str, Any]], config_map: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = yaml.safe_load(chart_objects[config_map]["data"]["prometheus.yml"])["scrape_configs"]
    return jobs


def test_every_component_builds_alone_with_defaults_without_reading_files_or_printing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no clusters/ here: a constructor that read the cluster folder would fail
    chart = cdk8s.Chart(cdk8s.App(), "user")
    Namespace(chart)
    prometheus = Prometheus(chart, node_exporter=NodeExporter(chart), kube_state_metrics=KubeStateMetrics(chart))
    PrometheusAdapter(chart, prometheus=prometheus)
    Grafana(chart, prometheus=prometheus)
    rendered = objects(chart)
    assert "StatefulSet/monitoring/prometheus" in rendered
    assert capsys.readouterr() == ("", "")
    assert list(tmp_path.iterdir()) == []


def test_two_prometheus_instances_fit_in_one_chart_named_after_their_ids() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "user")
    context = StackContext(namespace="metrics", instance="team-a")
    exporter = NodeExporter(chart, context=context)
    Prometheus(chart, "prometheus-short", context=context, node_exporter=exporter,
               settings=PrometheusConfig(retention="2d", exposure=ApiExposure(type="nodePort", node_port=30091)))
    Prometheus(chart, "prometheus-long", context=context, settings=PrometheusConfig(
        retention="90d", exposure=ApiExposure(type="nodePort", node_port=30092)))
    rendered = objects(chart)  # asserts no two objects share kind/namespace/name
    short = rendered["StatefulSet/metrics/prometheus-short"]
    assert short["spec"]["serviceName"] == "prometheus-short-headless"
    assert "--storage.tsdb.retention.time=2d" in short["spec"]["template"]["spec"]["containers"][0]["args"]
    assert short["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/instance": "team-a",
                                                        "app.kubernetes.io/name": "prometheus-short"}
    assert {v["configMap"]["name"] for v in short["spec"]["template"]["spec"]["volumes"] if "configMap" in v} == {
        "prometheus-short-config", "prometheus-short-rules"}
    assert "ClusterRole//metrics-prometheus-long" in rendered
    long_jobs = [job["job_name"] for job in scrape_configs(rendered, "ConfigMap/metrics/prometheus-long-config")]
    assert JOBS["node_exporter"] not in long_jobs, "a Prometheus given no node_exporter does not scrape one"
    [job] = [j for j in scrape_configs(rendered, "ConfigMap/metrics/prometheus-short-config")
             if j["job_name"] == JOBS["node_exporter"]]
    assert job["kubernetes_sd_configs"] == [{"role": "endpointslice", "namespaces": {"names": ["metrics"]}}]
    assert job["relabel_configs"][0]["regex"] == "node-exporter;metrics"


def test_the_adapter_adds_its_scrape_job_without_restarting_prometheus() -> None:
    def render(with_adapter: bool) -> dict[str, dict[str, Any]]:
        chart = cdk8s.Chart(cdk8s.App(), "user")
        prometheus = Prometheus(chart)
        if with_adapter:
            PrometheusAdapter(chart, "metrics-adapter", prometheus=prometheus)
        return objects(chart)

    alone, paired = render(False), render(True)
    [job] = [j for j in scrape_configs(paired, "ConfigMap/monitoring/prometheus-config")
             if j["job_name"] == JOBS["adapter"]]
    assert job["relabel_configs"][0]["regex"] == "metrics-adapter;https"
    alone_jobs = [j["job_name"] for j in scrape_configs(alone, "ConfigMap/monitoring/prometheus-config")]
    assert JOBS["adapter"] not in alone_jobs
    # The running Prometheus reloads the new prometheus.yml; its pod template does not change.
    assert (alone["StatefulSet/monitoring/prometheus"]["spec"]["template"]
            == paired["StatefulSet/monitoring/prometheus"]["spec"]["template"])
    assert "APIService//v1beta2.custom.metrics.k8s.io" in paired


def test_a_second_scrape_job_of_the_same_name_is_refused() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "user")
    prometheus = Prometheus(chart)
    PrometheusAdapter(chart, prometheus=prometheus)
    with pytest.raises(ValueError, match="a scrape job named 'prometheus-adapter' exists already"):
        PrometheusAdapter(chart, "prometheus-adapter-2", prometheus=prometheus)


def test_the_l1_objects_are_exposed_for_patching() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "user")
    prometheus = Prometheus(chart)
    prometheus.stateful_set.add_json_patch(cdk8s.JsonPatch.add("/spec/template/spec/priorityClassName", "critical"))
    rendered = objects(chart)
    assert rendered["StatefulSet/monitoring/prometheus"]["spec"]["template"]["spec"]["priorityClassName"] == "critical"
    assert prometheus.service.name == "prometheus" and prometheus.config_map.name == "prometheus-config"


def test_an_id_that_is_no_kubernetes_name_names_the_prop() -> None:
    with pytest.raises(ValueError, match="Prometheus id 'Prometheus_1': it is the Kubernetes name"):
        Prometheus(cdk8s.Chart(cdk8s.App(), "user"), "Prometheus_1")


def test_an_image_bump_leaves_the_statefulset_fields_kubernetes_cannot_change() -> None:
    def stateful_set(tag: str) -> dict[str, Any]:
        chart = cdk8s.Chart(cdk8s.App(), "user")
        Prometheus(chart, image=Image("quay.io/prometheus/prometheus", tag))
        spec: dict[str, Any] = objects(chart)["StatefulSet/monitoring/prometheus"]["spec"]
        return spec

    old, new = stateful_set("v3.13.0"), stateful_set("v3.14.0")
    assert old["template"] != new["template"], "the pod template carries the version and does roll"
    for field in ("volumeClaimTemplates", "selector", "serviceName"):
        assert old[field] == new[field], f"spec.{field} is immutable and must not change with the image"
    assert "app.kubernetes.io/version" not in old["volumeClaimTemplates"][0]["metadata"]["labels"]
