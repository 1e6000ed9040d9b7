"""prometheus.retentionSize: derived from the claim by default, validated in Prometheus' units."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import cdk8s
import pytest

from conftest import Rendered, find
from promstack.components.prometheus import Prometheus
from promstack.config.cluster import PrometheusConfig, load_cluster
from promstack.config.model import ConfigError
from promstack.config.sizes import prometheus_size_bytes, quantity_bytes, retention_size_for_claim


def prometheus_args(settings: dict[str, Any]) -> list[str]:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    Prometheus(chart, settings=PrometheusConfig.model_validate(settings))
    stateful_set = next(o for o in chart.to_json() if o["kind"] == "StatefulSet")
    args: list[str] = stateful_set["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


@pytest.mark.parametrize(
    ("claim", "expected"),
    [("10Gi", "8704MB"), ("100Gi", "87040MB"), ("50Gi", "43520MB"), ("1Ti", "891289MB"), ("10G", "8106MB"),
     ("512Mi", "435MB")],
)
def test_the_default_is_85_percent_of_the_claim_in_whole_mb(claim: str, expected: str) -> None:
    assert retention_size_for_claim(claim) == expected
    # Never more than 85% of the claim, and less than 1MB under it.
    limit = prometheus_size_bytes(expected)
    assert quantity_bytes(claim) * Fraction(85, 100) - 1024**2 < limit <= quantity_bytes(claim) * Fraction(85, 100)


def test_prometheus_units_are_base_2_and_quantities_follow_kubernetes() -> None:
    assert prometheus_size_bytes("1KB") == 1024
    assert prometheus_size_bytes("8704MB") == Fraction(85, 100) * 10 * 1024**3
    assert prometheus_size_bytes("1.5GB") == 1536 * 1024**2
    assert quantity_bytes("10Gi") == 10 * 1024**3
    assert quantity_bytes("10G") == 10 * 10**9
    assert quantity_bytes("1e3") == 1000
    assert quantity_bytes("1500m") == Fraction(3, 2)


def test_the_statefulset_passes_the_size_limit_next_to_the_time_limit(rendered: list[Rendered]) -> None:
    demo = find(rendered, "demo", "StatefulSet", "prometheus")["spec"]["template"]["spec"]["containers"][0]["args"]
    prod = find(rendered, "prod-example", "StatefulSet", "prometheus")["spec"]["template"]["spec"]["containers"][0]
    assert "--storage.tsdb.retention.size=8704MB" in demo  # 10Gi claim
    assert "--storage.tsdb.retention.size=87040MB" in prod["args"]  # 100Gi claim
    assert "--storage.tsdb.retention.time=30d" in prod["args"]


def test_an_explicit_size_is_rendered_as_given() -> None:
    args = prometheus_args({"retentionSize": "40GB", "storage": {"size": "50Gi"}})
    assert "--storage.tsdb.retention.size=40GB" in args
    assert prometheus_args({"retentionSize": "10GB"}) == prometheus_args({"retentionSize": "10GB",
                                                                          "storage": {"size": "10Gi"}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prometheus:\n  retentionSize: 8Gi\n",
         "prometheus.retentionSize: '8Gi' is not a Prometheus size; write a number and one of B, KB, MB, GB, TB, "
         "PB, EB"),
        ("prometheus:\n  retentionSize: 8 GB\n", "prometheus.retentionSize: '8 GB' is not a Prometheus size"),
        ("prometheus:\n  retentionSize: 8gb\n", "prometheus.retentionSize: '8gb' is not a Prometheus size"),
        ("prometheus:\n  retentionSize: 0MB\n", "prometheus.retentionSize: '0MB' is no size"),
        ("prometheus:\n  retentionSize: 11GB\n",
         "prometheus: retentionSize 11GB is larger than storage.size 10Gi; Prometheus would fill the claim before "
         "deleting blocks: leave it out (default 8704MB) or lower it"),
        ("prometheus:\n  retentionSize: 90GB\n  storage:\n    size: 80Gi\n",
         "retentionSize 90GB is larger than storage.size 80Gi"),
    ],
)
def test_a_bad_retention_size_gives_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    folder = tmp_path / "clusters" / "bad"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    [problem] = caught.value.problems
    assert expected in problem, problem


@pytest.mark.parametrize("size", ["10GB", "10240MB", "8704MB", "512MB", "1.5GB", "1TB"])
def test_sizes_up_to_the_claim_are_accepted(size: str) -> None:
    settings = PrometheusConfig.model_validate({"retentionSize": size, "storage": {"size": "1Ti"}})
    assert settings.effective_retention_size == size
    assert PrometheusConfig.model_validate({"retentionSize": "10GB"}).effective_retention_size == "10GB"
