"""autoscaling: in cluster.yaml: every malformed target gives one clear line naming the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from promstack.config.autoscaling import query_problem
from promstack.config.cluster import parse_spec
from promstack.config.model import ConfigError

WORKLOAD = {"name": "web", "namespace": "shop"}


def problems(autoscaling: dict[str, Any], **rest: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"autoscaling": autoscaling, **rest}, "cluster.yaml")
    return caught.value.problems


def target(*metrics: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"workload": WORKLOAD, "maxReplicas": 3, "metrics": list(metrics), **fields}


def test_defaults_and_a_valid_target() -> None:
    assert parse_spec({}, "c.yaml").autoscaling.provider == "prometheus-adapter"
    spec = parse_spec({"autoscaling": {"provider": "keda", "targets": [target(
        {"podMetric": "http_requests_per_second", "targetAverageValue": "10"},
        {"query": "sum(rate(http_requests_total[2m]))", "threshold": "100", "metricType": "Value"})]}}, "c.yaml")
    [scaled] = spec.autoscaling.targets
    assert (scaled.workload.kind, scaled.min_replicas, scaled.name) == ("Deployment", 1, "web")
    assert not spec.autoscaling.renders_adapter


def test_a_typo_in_a_query_fails_at_load_naming_the_field() -> None:
    [problem] = problems({"targets": [target({"query": "sum(rate(http_requests_total[2m])", "threshold": "1"})]})
    assert problem.startswith("cluster.yaml: autoscaling.targets[0].metrics[0].query: "
                              "'sum(rate(http_requests_total[2m])' is not PromQL: ")
    assert problem.endswith("; fix the query (Prometheus' /graph page shows the same error)")


@pytest.mark.parametrize(("metric", "message"), [
    ({}, "give either podMetric and targetAverageValue, or query and threshold"),
    ({"podMetric": "a", "targetAverageValue": "1", "query": "up", "threshold": "1"},
     "give either podMetric and targetAverageValue, or query and threshold"),
    ({"podMetric": "a"}, "podMetric needs targetAverageValue"),
    ({"query": "up"}, "query needs threshold"),
    ({"podMetric": "a", "targetAverageValue": "1", "metricType": "Value"}, "metricType applies to query metrics"),
    ({"podMetric": "a-b", "targetAverageValue": "1"}, "'a-b' is not a metric name"),
    ({"query": "up", "threshold": "0"}, "'0' is not above zero"),
])
def test_a_metric_is_one_kind_or_the_other(metric: dict[str, Any], message: str) -> None:
    [problem] = problems({"targets": [target(metric)]})
    assert problem.startswith("cluster.yaml: autoscaling.targets[0].metrics[0]"), problem
    assert message in problem


def test_target_level_mistakes() -> None:
    assert problems({"targets": [target()]}) == [
        "cluster.yaml: autoscaling.targets[0]: metrics is empty; give at least one podMetric or query to scale on"]
    metric = {"query": "up", "threshold": "1"}
    assert problems({"targets": [target(metric, minReplicas=4)]}) == [
        "cluster.yaml: autoscaling.targets[0]: maxReplicas 3 is below minReplicas 4; raise it"]
    assert problems({"targets": [target(metric, workload={**WORKLOAD, "kind": "DaemonSet"})]}) == [
        "cluster.yaml: autoscaling.targets[0].workload.kind: must be 'Deployment' or 'StatefulSet'"]
    assert problems({"targets": [target(metric), target(metric)]}) == [
        "cluster.yaml: autoscaling: targets[1]: shop/web is scaled by an earlier target too; one target per workload "
        "(give it several metrics)"]


def test_keep_adapter_belongs_to_a_move_to_keda() -> None:
    assert problems({"keepAdapter": True}) == [
        "cluster.yaml: autoscaling: keepAdapter is a step of moving to KEDA and needs provider keda; remove it"]
    assert parse_spec({"autoscaling": {"provider": "keda", "keepAdapter": True}}, "c").autoscaling.renders_adapter


def test_the_example_app_is_scaled_by_example_app_only() -> None:
    podinfo = {**target({"query": "up", "threshold": "1"}), "workload": {"name": "podinfo",
                                                                         "namespace": "promstack-example"}}
    [problem] = problems({"targets": [podinfo]}, exampleApp={"enabled": True})
    assert problem.startswith("cluster.yaml: (top level): autoscaling.targets: promstack-example/podinfo is the "
                              "example app, which exampleApp scales already")


def test_query_problem_is_the_one_judge_of_a_query() -> None:
    assert query_problem('sum(rate(http_requests_total{namespace="shop"}[2m]))') is None
    assert query_problem("  ") is not None and "is empty" in (query_problem("  ") or "")
    assert "control character" in (query_problem("up\x00") or "")
    assert "is not PromQL" in (query_problem("rate(up[5m]") or "")


def test_a_target_query_gets_the_scaler_checks_at_load() -> None:
    """A query that returns a series per pod, names a metric nobody exports, or reads a window of one
    scrape fails loading cluster.yaml, each with its field and its fix."""
    per_pod, unknown, short = problems({"targets": [target(
        {"query": "sum by (pod) (rate(http_requests_total[2m]))", "threshold": "1"},
        {"query": "sum(rate(checkout_orders_totl[2m]))", "threshold": "1"},
        {"query": "sum(rate(http_requests_total[30s]))", "threshold": "1"})]})
    assert per_pod.startswith("cluster.yaml: autoscaling.targets[0].metrics[0].query: ")
    assert "by (pod)" in per_pod
    assert unknown.startswith("cluster.yaml: autoscaling.targets[0].metrics[1].query: ")
    assert unknown.endswith("list the workload's own series in autoscaling.targets[0].declaredMetrics")
    assert short.startswith("cluster.yaml: autoscaling.targets[0].metrics[2].query: the range [30s]")


def test_declared_metrics_are_known_to_the_target_queries() -> None:
    spec = parse_spec({"autoscaling": {"targets": [target(
        {"query": "sum(rate(checkout_orders_total[2m]))", "threshold": "1"},
        declaredMetrics=["checkout_orders_total"])]}}, "c.yaml")
    assert spec.autoscaling.targets[0].declared_metrics == ("checkout_orders_total",)


def test_keda_and_a_prometheus_behind_basic_auth_is_one_clear_error() -> None:
    [problem] = problems({"provider": "keda"}, prometheus={"exposure": {"type": "nodePort", "auth": "basic"}})
    assert problem.startswith("cluster.yaml: (top level): autoscaling.provider keda: KEDA's ScaledObjects query "
                              "Prometheus, which prometheus.exposure puts behind basic auth")
    assert problem.endswith("or set prometheus.exposure.auth: none")
