"""The compile-time HPA check: a misspelt metric or a missing target fails synth, naming both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import CLUSTERS, Rendered, find
from promstack.components import example_app
from promstack.components.prometheus_adapter.rules import default_rules
from promstack.config.cluster import load_cluster
from promstack.config.model import ConfigError
from promstack.content.catalog import known_metric_names
from promstack.content.hpa_check import check_hpas, check_scaled_objects, served_metrics
from promstack.gitops.synth import build_cluster


def hpa(metric: str, target: str = "podinfo") -> dict[str, Any]:
    return {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "metrics": [{"type": "Pods", "pods": {"metric": {"name": metric}}}]},
    }


DEPLOYMENT = {"kind": "Deployment", "metadata": {"name": "podinfo", "namespace": "apps"}}


def test_the_shipped_hpa_scales_on_a_metric_the_adapter_serves(rendered: list[Rendered]) -> None:
    spec = find(rendered, "demo", "HorizontalPodAutoscaler", "podinfo")["spec"]
    assert spec["metrics"][0]["pods"]["metric"]["name"] == "http_requests_per_second"
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert "replicas" not in find(rendered, "demo", "Deployment", "podinfo")["spec"], "the HPA owns replicas"


def test_served_metrics_follow_the_adapters_naming() -> None:
    served = served_metrics([*default_rules(), example_app.RULE], known_metric_names())
    # The example rule, and upstream's default rule that strips _total from counters.
    assert {"http_requests_per_second", "http_requests"} <= served


def test_a_misspelt_metric_fails_naming_the_hpa_and_the_metric() -> None:
    problems = check_hpas([hpa("http_request_per_second")], [DEPLOYMENT], [example_app.RULE], known_metric_names(),
                          cluster="demo")
    assert problems == [
        "cluster demo: HorizontalPodAutoscaler apps/web: spec.metrics[0].pods.metric.name: no adapter rule serves "
        "'http_request_per_second'; did you mean 'http_requests_per_second'? or add a rule to adapter.rules "
        "whose name.as produces it"]


def test_a_missing_scale_target_fails() -> None:
    problems = check_hpas([hpa("http_requests_per_second", target="nope")], [DEPLOYMENT], [example_app.RULE],
                          known_metric_names(), cluster="demo")
    assert problems == ["cluster demo: HorizontalPodAutoscaler apps/web: spec.scaleTargetRef: Deployment nope does "
                        "not exist in the rendered stack; point it at a workload that does"]


def test_synth_fails_when_no_rule_serves_the_example_metric(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(example_app, "METRIC", "http_requests_per_minute")
    with pytest.raises(ConfigError, match=r"HorizontalPodAutoscaler promstack-example/podinfo: .*"
                                          r"'http_requests_per_minute'"):
        build_cluster(load_cluster(CLUSTERS / "demo"), tmp_path)


def test_prod_example_has_no_example_app(rendered: list[Rendered]) -> None:
    assert not [r for r in rendered if r.cluster == "prod-example" and r.kind == "HorizontalPodAutoscaler"]




def scaled_object(query: str = "sum(rate(http_requests_total[2m]))", server: str = "http://prometheus.monitoring.svc:9090",
                  target: str = "podinfo", namespace: str = "apps") -> dict[str, Any]:
    return {
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"scaleTargetRef": {"name": target},
                 "triggers": [{"type": "prometheus", "metadata": {"serverAddress": server, "query": query,
                                                                  "threshold": "10"}}]},
    }


def test_scaled_objects_must_query_the_stacks_prometheus_with_promql_that_parses() -> None:
    url = "http://prometheus.monitoring.svc:9090"
    assert check_scaled_objects([scaled_object()], [DEPLOYMENT], server_address=url, cluster="k") == []
    problems = check_scaled_objects(
        [scaled_object(query="sum(rate(x[2m])", server="http://elsewhere:9090", target="nope")], [DEPLOYMENT],
        server_address=url, cluster="k")
    assert problems[0] == ("cluster k: ScaledObject apps/web: spec.scaleTargetRef: Deployment nope does not exist in "
                           "the rendered stack; point it at a workload that does")
    assert problems[1] == ("cluster k: ScaledObject apps/web: spec.triggers[0].metadata.serverAddress: "
                           f"'http://elsewhere:9090' is not the stack's Prometheus; use {url}")
    assert problems[2].startswith("cluster k: ScaledObject apps/web: spec.triggers[0].metadata.query: is not PromQL")
    assert len(problems) == 3


def test_targets_outside_the_rendered_namespaces_are_not_looked_for() -> None:
    url = "http://prometheus.monitoring.svc:9090"
    team = scaled_object(target="checkout", namespace="shop")
    assert check_scaled_objects([team], [DEPLOYMENT], server_address=url, cluster="k", namespaces=["apps"]) == []
    assert check_hpas([hpa("http_requests_per_second", target="checkout")], [DEPLOYMENT], [example_app.RULE],
                      known_metric_names(), cluster="k", namespaces=["monitoring"]) == []
    assert check_scaled_objects([scaled_object(target="nope")], [DEPLOYMENT], server_address=url, cluster="k",
                                namespaces=["apps"]) != []


def test_keda_synth_fails_when_no_rule_gives_a_pod_metric_its_query(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "cluster.yaml").write_text(
        "autoscaling:\n  provider: keda\n  targets:\n"
        "    - workload: {name: web, namespace: shop}\n      maxReplicas: 3\n"
        "      metrics: [{podMetric: http_request_per_second, targetAverageValue: '5'}]\n")
    with pytest.raises(ConfigError) as caught:
        build_cluster(load_cluster(folder), tmp_path / "out")
    assert caught.value.problems == [
        f"{folder / 'cluster.yaml'}: autoscaling.targets[0].metrics[0].podMetric: no adapter rule serves "
        "'http_request_per_second', so KEDA has no query for it; did you mean 'http_requests'? or add "
        "a rule to adapter.rules whose name.as produces it, or give a query and threshold instead"]


def test_the_hpa_check_follows_the_provider(rendered: list[Rendered]) -> None:
    assert [r for r in rendered if r.cluster == "demo" and r.kind == "HorizontalPodAutoscaler"]
    assert not [r for r in rendered if r.cluster == "keda-example" and r.kind == "HorizontalPodAutoscaler"]
    assert [r for r in rendered if r.cluster == "keda-example" and r.kind == "ScaledObject"]


def test_synth_fails_when_a_scaled_object_target_is_missing_from_a_rendered_namespace(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "cluster.yaml").write_text(
        "exampleApp: {enabled: true}\ngrafana: {adminSecret: existing}\nautoscaling:\n  provider: keda\n  targets:\n"
        "    - workload: {name: podinfo-typo, namespace: promstack-example}\n      maxReplicas: 3\n"
        "      metrics: [{query: 'sum(up)', threshold: '5'}]\n")
    with pytest.raises(ConfigError, match=r"ScaledObject promstack-example/podinfo-typo: spec.scaleTargetRef: "
                                          r"Deployment podinfo-typo does not exist"):
        build_cluster(load_cluster(folder), tmp_path / "out")
