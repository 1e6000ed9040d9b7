"""resources: requests and limits compared as quantities, and either one may be left out."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from promstack.cli import schema_text
from promstack.config.cluster import ClusterSpec, parse_spec
from promstack.config.model import ConfigError, quantity_value


def prometheus_resources(resources: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    spec = parse_spec({"prometheus": {"resources": resources}}, "f.yaml")
    r = spec.prometheus.resources
    return (r.requests.cpu, r.requests.memory), (r.limits.cpu, r.limits.memory)


def test_only_requests_keeps_the_default_limits_raised_to_the_requests() -> None:
    # Prometheus' defaults: 500m/2Gi requested, 2/4Gi limit.
    assert prometheus_resources({"requests": {"cpu": "1", "memory": "1Gi"}}) == (("1", "1Gi"), ("2", "4Gi"))
    assert prometheus_resources({"requests": {"cpu": "3", "memory": "6Gi"}}) == (("3", "6Gi"), ("3", "6Gi"))
    assert prometheus_resources({"requests": {"cpu": "2500m", "memory": "3Gi"}}) == (("2500m", "3Gi"), ("2500m", "4Gi"))


def test_only_limits_sets_the_requests_to_the_limits() -> None:
    assert prometheus_resources({"limits": {"cpu": "4", "memory": "8Gi"}}) == (("4", "8Gi"), ("4", "8Gi"))
    assert prometheus_resources({"limits": {"cpu": "100m", "memory": "1Gi"}}) == (("100m", "1Gi"), ("100m", "1Gi"))


def test_neither_means_the_component_defaults() -> None:
    assert prometheus_resources({}) == (("500m", "2Gi"), ("2", "4Gi"))
    spec = parse_spec({"grafana": {"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}}}, "f.yaml")
    assert (spec.grafana.resources.limits.cpu, spec.grafana.resources.limits.memory) == ("1", "1Gi")


@pytest.mark.parametrize(
    ("requests", "limits"),
    [({"cpu": "2000m", "memory": "1024Mi"}, {"cpu": 2, "memory": "1Gi"}),  # equal, written differently
     ({"cpu": "0.5", "memory": "1G"}, {"cpu": "500m", "memory": "1Gi"}),
     ({"cpu": "1e-1", "memory": "1k"}, {"cpu": "100m", "memory": "1Ki"})],
)
def test_requests_up_to_the_limits_are_fine(requests: dict[str, Any], limits: dict[str, Any]) -> None:
    prometheus_resources({"requests": requests, "limits": limits})


def test_requests_above_limits_name_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"adapter": {"resources": {"requests": {"cpu": "1001m", "memory": "2Gi"},
                                              "limits": {"cpu": "1", "memory": "2000Mi"}}}}, "f.yaml")
    assert caught.value.problems == [
        "f.yaml: adapter.resources: requests.cpu 1001m is above limits.cpu 1 and requests.memory 2Gi is above "
        "limits.memory 2000Mi; lower the requests or raise the limits"
    ]


def test_a_bad_lone_half_is_reported_once_where_it_was_written() -> None:
    for half in ("requests", "limits"):
        with pytest.raises(ConfigError) as caught:
            parse_spec({"prometheus": {"resources": {half: {"cpu": "lots", "memory": "1Gi"}}}}, "f.yaml")
        assert caught.value.problems == [
            f"f.yaml: prometheus.resources.{half}.cpu: 'lots' is not a Kubernetes quantity; write e.g. 250m, 1, "
            "512Mi or 10Gi"
        ]


def test_quantity_values() -> None:
    assert quantity_value("250m") == Decimal("0.25")
    assert quantity_value("1Ki") == 1024
    assert quantity_value("1k") == 1000
    assert quantity_value("1E") == 10**18
    assert quantity_value("2e3") == 2000
    assert quantity_value("1.5Gi") == Decimal(3 * 2**29)
    assert quantity_value("1e99") is None and quantity_value("1GB") is None and quantity_value("1Gi\n") is None


def test_schema_lets_either_half_out() -> None:
    resources = json.loads(schema_text())["$defs"]["Resources"]
    assert "required" not in resources
    assert "requests equal the" in resources["description"]
    assert ClusterSpec.model_json_schema()["$defs"]["Resources"].get("required") is None
