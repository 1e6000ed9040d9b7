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
from promstack.content.hpa_check import check_hpas, served_metrics
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


