"""promstack.catalog: metric-name extraction with a real PromQL parser, the catalogs, template helpers."""

from __future__ import annotations

import re

import pytest

from promstack.content import catalog
from promstack.content.catalog import (
    CATALOGS,
    PromQLError,
    known_metric_names,
    metric_names_in,
    render_adapter_template,
    render_grafana_query,
    unknown_metrics,
)
from promstack.content.rules import recorded_metric_names

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

# prometheus-adapter's upstream default metricsQuery templates (docs/config.md and the chart's rules.default).
UPSTREAM_ADAPTER_TEMPLATES = (
    "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
    "sum(rate(<<.Series>>{<<.LabelMatchers>>}[5m])) by (<<.GroupBy>>)",
    'sum(rate(<<.Series>>{<<.LabelMatchers>>,container!="POD"}[5m])) by (<<.GroupBy>>)',
    'sum(<<.Series>>{<<.LabelMatchers>>,container!="POD"}) by (<<.GroupBy>>)',
    "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    "sum(<< .Series >>{<< .LabelMatchers >>}) by (<< .GroupBy >>)",
)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('rate(http_requests_total{job="api"}[5m])', {"http_requests_total"}),
        ("sum by (job) (rate(a_total[5m])) / on (job) group_left () b", {"a_total", "b"}),
        ('count({__name__="node_load1"})', {"node_load1"}),
        ('count({__name__=~"node_.*"})', set()),
        ("max_over_time(deriv(x[5m])[1h:5m])", {"x"}),
        ('absent(up{job="x"}) or vector(0)', {"up"}),
        ('label_replace(kube_pod_info, "host", "$1", "node", "(.*)")', {"kube_pod_info"}),
        # Label names and label values that look like metric names are not metric names.
        ('up{job="node_load1"} * on (node_load5) group_left (node_load15) node_uname_info', {"up", "node_uname_info"}),
        ("histogram_quantile(0.9, sum by (le) (rate(d_seconds_bucket[5m])))", {"d_seconds_bucket"}),
        ("namespace_pod:http_requests:rate5m offset 5m", {"namespace_pod:http_requests:rate5m"}),
        ("1 + 2", set()),
    ],
)
def test_metric_names_in_follows_promql_grammar(expr: str, expected: set[str]) -> None:
    assert metric_names_in(expr) == expected


@pytest.mark.parametrize("expr", ["rate(up[5m]", "sum by (job) up", "up{job=}", "rate(up)", ""])
def test_invalid_promql_raises_naming_the_expression(expr: str) -> None:
    with pytest.raises(PromQLError) as excinfo:
        metric_names_in(expr)
    assert expr in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_a_typo_in_a_metric_name_is_caught() -> None:
    assert unknown_metrics("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes") == set()
    assert unknown_metrics("node_memory_MemAvailabe_bytes / node_memory_MemTotal_bytes") == {
        "node_memory_MemAvailabe_bytes"
    }
    # kube-state-metrics v1 names are gone in v2; the catalog must not accept them.
    assert unknown_metrics("kube_hpa_status_current_replicas") == {"kube_hpa_status_current_replicas"}
    assert unknown_metrics("kube_pod_container_resource_requests_cpu_cores") == {
        "kube_pod_container_resource_requests_cpu_cores"
    }


def test_histograms_expand_to_their_series() -> None:
    known = known_metric_names()
    assert {
        "apiserver_request_duration_seconds_bucket",
        "apiserver_request_duration_seconds_sum",
        "apiserver_request_duration_seconds_count",
    } <= known
    assert "apiserver_request_duration_seconds" not in known


@pytest.mark.parametrize("component", sorted(CATALOGS))
def test_catalog_names_are_valid_and_unique(component: str) -> None:
    entry = CATALOGS[component]
    names = [metric.name for metric in entry.metrics]
    assert names, f"catalog {component} is empty"
    assert len(names) == len(set(names)), f"catalog {component} lists a metric twice"
    for name in names:
        assert _METRIC_NAME.match(name), f"catalog {component}: {name!r} is not a valid metric name"
        # Colons are reserved for recording rules (Prometheus naming conventions).
        assert (":" in name) == (component == "recording-rules"), f"catalog {component}: {name!r}"
    assert entry.source, f"catalog {component} does not say where its names were checked"


def test_the_catalog_covers_the_metrics_the_brief_names() -> None:
    expected = {
        "node-exporter": {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes"},
        "kube-state-metrics": {
            "kube_pod_container_resource_requests",
            "kube_deployment_status_replicas_available",
            "kube_horizontalpodautoscaler_status_current_replicas",
        },
        "cadvisor": {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"},
        "prometheus": {"prometheus_tsdb_head_series", "prometheus_rule_evaluation_failures_total"},
        "prometheus-synthetic": {"up", "scrape_duration_seconds"},
        "kube-apiserver": {"apiserver_request_total", "aggregator_unavailable_apiservice"},
        "example-app": {"http_requests_total"},
    }
    for component, names in expected.items():
        assert names <= CATALOGS[component].series_names(), component


def test_recording_rule_outputs_are_catalogued() -> None:
    assert CATALOGS["recording-rules"].series_names() == recorded_metric_names()


@pytest.mark.parametrize("template", UPSTREAM_ADAPTER_TEMPLATES)
def test_upstream_adapter_templates_render_to_valid_promql(template: str) -> None:
    rendered = render_adapter_template(template, "http_requests_total")
    assert "<<" not in rendered
    assert metric_names_in(rendered) == {"http_requests_total"}
    assert unknown_metrics(rendered) == set()


def test_render_adapter_template_fills_the_adapters_fields() -> None:
    rendered = render_adapter_template(
        "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
        "http_requests_total",
        label_matchers='namespace="demo",pod=~"web-1|web-2"',
        group_by="pod",
    )
    assert rendered == 'sum(rate(http_requests_total{namespace="demo",pod=~"web-1|web-2"}[2m])) by (pod)'


@pytest.mark.parametrize(
    "template",
    [
        "sum(<<.Series>>) by (<<range $i, $v := .GroupBySlice>><<$v>>,<<end>>)",
        "sum(<<.Series>>{<<.LabelValuesByName>>})",
    ],
)
def test_render_adapter_template_rejects_what_it_cannot_fill(template: str) -> None:
    with pytest.raises(ValueError, match="unsupported adapter template"):
        render_adapter_template(template, "x")


def test_a_rendered_adapter_template_with_a_typo_fails_the_catalog() -> None:
    rendered = render_adapter_template(
        "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)", "http_request_total"
    )
    assert unknown_metrics(rendered) == {"http_request_total"}


def test_render_grafana_query_replaces_only_interval_variables() -> None:
    expr = 'sum(rate(x{namespace=~"$namespace"}[$__rate_interval])) + rate(y[${__interval}]) + rate(z[$__range])'
    assert render_grafana_query(expr) == 'sum(rate(x{namespace=~"$namespace"}[5m])) + rate(y[5m]) + rate(z[5m])'
    catalog.parse(render_grafana_query(expr))
