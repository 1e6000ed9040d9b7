"""Autoscaling targets rendered for either provider: HPAs under prometheus-adapter, KEDA ScaledObjects under keda."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest

from conftest import CLUSTERS, Rendered, find
from promstack.components.autoscaling import (
    TRANSFER_HPA_OWNERSHIP,
    Autoscaling,
    PrometheusAuth,
    keda_number,
    pod_metric_query,
    query_metric_name,
    trigger_authentication,
)
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.rules import default_rules
from promstack.config.autoscaling import AutoscalingConfig, ScalingTarget
from promstack.config.cluster import ClusterConfig, parse_spec
from promstack.config.inputs import ClusterInputs
from promstack.content.catalog import known_metric_names, parse
from promstack.content.hpa_check import served_metrics
from promstack.stack import MonitoringStack, adapter_rules

QUERY = 'sum(rate(http_requests_total{namespace="promstack-example", service="podinfo"}[2m]))'


def build(spec: dict[str, Any], name: str = "scaling") -> tuple[MonitoringStack, dict[str, dict[str, Any]]]:
    """The whole stack of a cluster whose cluster.yaml is ``spec``, keyed by kind/namespace/name."""
    data = {"adapter": {"tls": {"mode": "self-signed"}}, **spec}
    cluster = ClusterConfig(name=name, path=Path("clusters") / name, spec=parse_spec(data, "cluster.yaml"))
    app = cdk8s.App()
    stack = MonitoringStack(app, cluster=cluster, inputs=ClusterInputs())
    objects: dict[str, dict[str, Any]] = {}
    for chart in app.charts:
        for obj in chart.to_json():
            objects[f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"] = obj
    return stack, objects


def example(provider: str, **autoscaling: Any) -> dict[str, Any]:
    return {"exampleApp": {"enabled": True, "maxReplicas": 7, "targetAverageValue": "500m"},
            "autoscaling": {"provider": provider, **autoscaling}}


def test_the_example_app_is_an_hpa_on_the_adapters_metric_under_prometheus_adapter() -> None:
    _, objects = build(example("prometheus-adapter"))
    hpa = objects["HorizontalPodAutoscaler/promstack-example/podinfo"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 7)
    assert hpa["metrics"] == [{"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                                        "target": {"type": "AverageValue", "averageValue": "500m"}}}]
    assert not [k for k in objects if k.startswith("ScaledObject/")]
    assert "APIService//v1beta2.custom.metrics.k8s.io" in objects


def test_the_example_app_is_a_scaled_object_taking_over_the_same_hpa_under_keda() -> None:
    stack, objects = build(example("keda"))
    scaled = objects["ScaledObject/promstack-example/podinfo"]
    spec = scaled["spec"]
    assert scaled["metadata"]["annotations"][TRANSFER_HPA_OWNERSHIP] == "true"
    # The HPA KEDA manages is the one the adapter path rendered: a switch takes it over in place.
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo"
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 7)
    [trigger] = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"] == {
        "serverAddress": stack.prometheus.service_url,
        # The adapter rule's own query (2m rate of http_requests_total) over podinfo's pods, as one series.
        "query": 'sum(rate(http_requests_total{namespace="promstack-example",pod=~"podinfo-[a-z0-9]+-[a-z0-9]+"}'
                 "[2m]))",
        "threshold": "0.5",
    }
    parse(trigger["metadata"]["query"])
    assert stack.prometheus.service_url == "http://prometheus.monitoring.svc:9090"


def test_keda_renders_no_adapter_and_no_custom_metrics_apiservice() -> None:
    stack, objects = build(example("keda"))
    assert stack.adapter is None
    assert not [k for k in objects if "prometheus-adapter" in k or k.startswith(("APIService/", "HorizontalPod"))]
    prometheus_jobs = objects["ConfigMap/monitoring/prometheus-config"]["data"]["prometheus.yml"]
    assert "prometheus-adapter" not in prometheus_jobs


def test_keep_adapter_renders_both_for_the_first_step_of_a_move() -> None:
    _, objects = build(example("keda", keepAdapter=True))
    assert "ScaledObject/promstack-example/podinfo" in objects
    assert "Deployment/monitoring/prometheus-adapter" in objects
    assert "APIService//v1beta1.custom.metrics.k8s.io" in objects
    assert "HorizontalPodAutoscaler/promstack-example/podinfo" not in objects, "KEDA owns the HPA now"


QUERY_TARGET: dict[str, Any] = {
    "workload": {"kind": "StatefulSet", "name": "podinfo-db", "namespace": "promstack-example"},
    "maxReplicas": 4, "metrics": [{"query": QUERY, "threshold": "20", "metricType": "Value"}]}


def test_a_query_target_under_the_adapter_is_an_object_metric_served_by_a_rule_made_for_it() -> None:
    stack, objects = build({"autoscaling": {"targets": [QUERY_TARGET]}})
    hpa = objects["HorizontalPodAutoscaler/promstack-example/podinfo-db"]["spec"]
    name = "promstack_promstack_example_podinfo_db_query_0"
    assert hpa["scaleTargetRef"]["kind"] == "StatefulSet"
    assert hpa["metrics"] == [{"type": "Object", "object": {
        "describedObject": {"apiVersion": "v1", "kind": "Namespace", "name": "promstack-example"},
        "metric": {"name": name}, "target": {"type": "Value", "value": "20"}}}]
    assert stack.adapter is not None
    [rule] = [r for r in stack.adapter.rules if r.name.as_ == name]
    assert rule.metrics_query == f'label_replace({QUERY}, "namespace", "promstack-example", "", "")'
    assert name in served_metrics(stack.adapter.rules, known_metric_names())
    parse(rule.metrics_query)
    assert f"as: {name}" in objects["ConfigMap/monitoring/prometheus-adapter-config"]["data"]["config.yaml"]


def test_a_query_target_under_keda_is_the_query_itself() -> None:
    target = {**QUERY_TARGET, "metrics": [{**QUERY_TARGET["metrics"][0], "activationThreshold": "1.5"}]}
    _, objects = build({"autoscaling": {"provider": "keda", "targets": [target]}})
    [trigger] = objects["ScaledObject/promstack-example/podinfo-db"]["spec"]["triggers"]
    assert trigger["metricType"] == "Value"
    assert trigger["metadata"] == {"serverAddress": "http://prometheus.monitoring.svc:9090", "query": QUERY,
                                   "threshold": "20", "activationThreshold": "1.5"}
    assert "authenticationRef" not in trigger


def test_a_pod_metric_becomes_the_serving_rules_query_for_the_workloads_pods() -> None:
    target = ScalingTarget.model_validate({
        "workload": {"kind": "StatefulSet", "name": "db.primary", "namespace": "shop"}, "maxReplicas": 3,
        "metrics": [{"podMetric": "http_requests", "targetAverageValue": "1"}]})
    # Upstream's default rule that strips _total from counters serves http_requests with a 5m rate.
    query = pod_metric_query(target, "http_requests", default_rules())
    assert query == 'sum(rate(http_requests_total{namespace="shop",pod=~"db\\\\.primary-[0-9]+"}[5m]))'
    parse(query)
    assert pod_metric_query(target, "no_such_metric", default_rules()) is None


def test_trigger_authentication_is_rendered_only_with_auth() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "auth")
    labels = {"app.kubernetes.io/name": "autoscaling-prometheus"}
    assert trigger_authentication(chart, "none", name="a", namespace="shop", labels=labels, auth=None) is None
    made = trigger_authentication(chart, "basic", name="autoscaling-prometheus", namespace="shop", labels=labels,
                                  auth=PrometheusAuth(secret="prometheus-basic-auth", password_key="pw"))
    assert made is not None
    [obj] = chart.to_json()
    assert obj["kind"] == "TriggerAuthentication" and obj["metadata"]["namespace"] == "shop"
    assert obj["spec"] == {"secretTargetRef": [
        {"parameter": "username", "name": "prometheus-basic-auth", "key": "username"},
        {"parameter": "password", "name": "prometheus-basic-auth", "key": "pw"},
    ]}


def test_with_auth_every_trigger_uses_basic_auth_from_its_namespaces_trigger_authentication() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "user", disable_resource_name_hashes=True)
    settings = AutoscalingConfig.model_validate({"provider": "keda", "targets": [QUERY_TARGET]})
    scaling = Autoscaling(chart, settings=settings, prometheus=Prometheus(chart),
                          auth=PrometheusAuth(secret="prometheus-basic-auth"))
    assert len(scaling.trigger_authentications) == 1
    objects = {obj["kind"]: obj for obj in chart.to_json()}
    [trigger] = objects["ScaledObject"]["spec"]["triggers"]
    assert trigger["authenticationRef"] == {"name": "autoscaling-prometheus"}
    assert trigger["metadata"]["authModes"] == "basic"
    assert objects["TriggerAuthentication"]["metadata"]["name"] == "autoscaling-prometheus"
    assert objects["TriggerAuthentication"]["metadata"]["namespace"] == "promstack-example"


@pytest.mark.parametrize(("quantity", "number"), [("10", "10"), ("500m", "0.5"), ("1k", "1000"), ("1Ki", "1024"),
                                                  ("2.50", "2.5")])
def test_thresholds_reach_keda_as_plain_numbers(quantity: str, number: str) -> None:
    assert keda_number(quantity) == number


def test_query_metric_names_are_metric_names() -> None:
    target = ScalingTarget.model_validate({"workload": {"name": "web.v2", "namespace": "a-b"}, "maxReplicas": 2,
                                           "metrics": [{"query": "up", "threshold": "1"}]})
    assert query_metric_name(target, 3) == "promstack_a_b_web_v2_query_3"


def test_adapter_rules_resolve_pod_metrics_under_either_provider(tmp_path: Path) -> None:
    for provider in ("prometheus-adapter", "keda"):
        spec = parse_spec(example(provider), "cluster.yaml")
        rules = adapter_rules(ClusterConfig(name="x", path=tmp_path, spec=spec))
        assert "http_requests_per_second" in served_metrics(rules, known_metric_names())


def test_the_shipped_keda_cluster_scales_the_example_and_a_team_workload(rendered: list[Rendered]) -> None:
    kinds = {r.kind for r in rendered if r.cluster == "keda-example"}
    assert "ScaledObject" in kinds
    assert not kinds & {"APIService", "HorizontalPodAutoscaler"}
    assert not [r for r in rendered if r.cluster == "keda-example" and "prometheus-adapter" in r.name]
    checkout = find(rendered, "keda-example", "ScaledObject", "checkout")
    assert checkout["metadata"]["namespace"] == "shop"
    assert checkout["spec"]["triggers"][0]["metadata"]["activationThreshold"] == "5"
    assert find(rendered, "keda-example", "ScaledObject", "podinfo")["metadata"]["annotations"][
        "argocd.argoproj.io/sync-wave"] == "5", "after the workloads, before anything is pruned"
    # The demo keeps the adapter.
    assert find(rendered, "demo", "HorizontalPodAutoscaler", "podinfo")["metadata"]["annotations"][
        "argocd.argoproj.io/sync-options"] == "PruneLast=true"
    assert (CLUSTERS / "keda-example" / "cluster.yaml").is_file()


def test_the_adapter_tls_warning_only_while_the_adapter_is_rendered(tmp_path: Path) -> None:
    from promstack.gitops.synth import warnings

    def tls_warnings(autoscaling: dict[str, Any]) -> list[str]:
        spec = parse_spec({"adapter": {"tls": {"mode": "self-signed"}}, "autoscaling": autoscaling}, "c.yaml")
        return [w for w in warnings(ClusterConfig(name="x", path=tmp_path, spec=spec)) if "self-signed" in w]

    assert tls_warnings({}) and tls_warnings({"provider": "keda", "keepAdapter": True})
    assert tls_warnings({"provider": "keda"}) == []


@pytest.mark.parametrize("template", [
    "sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)",
    "sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m]))by(<<.GroupBy>>)",
    "sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m]))",
])
def test_a_pod_metric_query_is_one_series_however_the_rule_groups(template: str) -> None:
    from promstack.components.prometheus_adapter.rules import AdapterRule

    rule = AdapterRule.model_validate({"seriesQuery": 'jobs_total{namespace!="",pod!=""}',
                                       "resources": {"template": "<<.Resource>>"},
                                       "name": {"matches": "^(.*)_total$", "as": "${1}_per_second"},
                                       "metricsQuery": template})
    target = ScalingTarget.model_validate({"workload": {"name": "w", "namespace": "n"}, "maxReplicas": 2,
                                           "metrics": [{"podMetric": "jobs_per_second", "targetAverageValue": "1"}]})
    query = pod_metric_query(target, "jobs_per_second", [rule])
    assert query is not None and "GroupBy" not in query and " by " not in query and "pod)" not in query, query
    assert parse(query) is not None


@pytest.mark.parametrize("provider", ["prometheus-adapter", "keda"])
def test_a_target_synth_does_not_render_is_an_error_unless_external(tmp_path: Path, provider: str) -> None:
    from promstack.config.model import ConfigError
    from promstack.gitops.synth import check_autoscaling

    def check(**fields: Any) -> None:
        spec = parse_spec({"adapter": {"tls": {"mode": "self-signed"}}, "autoscaling": {
            "provider": provider, "targets": [{"workload": {"name": "checkout", "namespace": "shop"},
                                               "maxReplicas": 3, "metrics": [{"query": QUERY, "threshold": "5"}],
                                               **fields}]}}, "cluster.yaml")
        cluster = ClusterConfig(name="x", path=tmp_path, spec=spec)
        check_autoscaling(cluster, MonitoringStack(cdk8s.App(), cluster=cluster, inputs=ClusterInputs()))

    with pytest.raises(ConfigError) as caught:
        check()
    assert caught.value.problems == [
        f"{tmp_path}/cluster.yaml: autoscaling.targets[0].workload: Deployment shop/checkout is not rendered by "
        "this stack; correct the reference, or set external: true if the workload is deployed from elsewhere "
        "(an app's repository)"]
    check(external=True)
