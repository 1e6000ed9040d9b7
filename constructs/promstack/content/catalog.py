"""Metric catalogs: which series each component of the stack exports, by exact name.

Every PromQL expression the stack ships (recording and alerting rules, dashboard queries, adapter
metricsQuery templates) may only read series listed here, so a typo such as
``node_memory_MemAvailabe_bytes`` fails a test instead of rendering an empty panel in production.
Names were checked against each exporter's own code or metric docs (node_exporter collectors,
kube-state-metrics ``docs/metrics``, cAdvisor and kubelet, Prometheus ``tsdb`` and ``rules``,
kube-aggregator ``controllers/status/metrics.go``, prometheus-adapter ``pkg/client/metrics``).

Expressions are parsed with ``promql-parser`` (a PromQL parser in Rust, with Python bindings), so
extraction follows real PromQL grammar, never a regular expression over the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final, Literal

import promql_parser

from promstack.content.rules import HTTP_REQUESTS_METRIC, recorded_metric_names

MetricType = Literal["counter", "gauge", "histogram", "summary"]


@dataclass(frozen=True)
class Metric:
    """One metric family; histograms and summaries expand to their ``_bucket``/``_sum``/``_count`` series."""

    name: str
    type: MetricType

    def series_names(self) -> frozenset[str]:
        if self.type == "histogram":
            return frozenset({f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"})
        if self.type == "summary":
            return frozenset({self.name, f"{self.name}_sum", f"{self.name}_count"})
        return frozenset({self.name})


@dataclass(frozen=True)
class Catalog:
    """The metrics one component exports, and where the names were checked."""

    component: str
    source: str
    metrics: tuple[Metric, ...]

    def series_names(self) -> frozenset[str]:
        return frozenset().union(*(metric.series_names() for metric in self.metrics))


def _metrics(kind: MetricType, names: Iterable[str]) -> tuple[Metric, ...]:
    return tuple(Metric(name, kind) for name in names)


def _catalog(component: str, source: str, **by_type: Iterable[str]) -> Catalog:
    metrics: list[Metric] = []
    for kind in ("counter", "gauge", "histogram", "summary"):
        metrics.extend(_metrics(kind, by_type.get(kind, ())))
    return Catalog(component, source, tuple(sorted(metrics, key=lambda m: m.name)))


NODE_EXPORTER = _catalog(
    "node-exporter",
    "prometheus/node_exporter collector/{cpu,meminfo,filesystem,diskstats,netdev,loadavg,uname,time}",
    counter=(
        "node_cpu_seconds_total",
        "node_disk_io_time_seconds_total",
        "node_disk_read_bytes_total",
        "node_disk_reads_completed_total",
        "node_disk_written_bytes_total",
        "node_disk_writes_completed_total",
        "node_network_receive_bytes_total",
        "node_network_receive_errs_total",
        "node_network_transmit_bytes_total",
        "node_network_transmit_errs_total",
    ),
    gauge=(
        "node_boot_time_seconds",
        "node_exporter_build_info",
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_readonly",
        "node_filesystem_size_bytes",
        "node_load1",
        "node_load15",
        "node_load5",
        "node_memory_Buffers_bytes",
        "node_memory_Cached_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_MemTotal_bytes",
        "node_time_seconds",
        "node_uname_info",
    ),
)

KUBE_STATE_METRICS = _catalog(
    "kube-state-metrics",
    "kubernetes/kube-state-metrics docs/metrics/{workload,cluster}/*.md (v2)",
    counter=("kube_pod_container_status_restarts_total",),
    gauge=(
        "kube_daemonset_status_desired_number_scheduled",
        "kube_daemonset_status_number_available",
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas",
        "kube_deployment_status_replicas_available",
        "kube_deployment_status_replicas_unavailable",
        "kube_horizontalpodautoscaler_info",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "kube_horizontalpodautoscaler_spec_target_metric",
        "kube_horizontalpodautoscaler_status_condition",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_status_target_metric",
        "kube_namespace_status_phase",
        "kube_node_info",
        "kube_node_status_allocatable",
        "kube_node_status_capacity",
        "kube_node_status_condition",
        "kube_pod_container_info",
        "kube_pod_container_resource_limits",
        "kube_pod_container_resource_requests",
        "kube_pod_container_status_ready",
        "kube_pod_container_status_waiting_reason",
        "kube_pod_info",
        "kube_pod_owner",
        "kube_pod_status_phase",
        "kube_pod_status_ready",
        "kube_statefulset_replicas",
        "kube_statefulset_status_replicas_ready",
    ),
)

CADVISOR = _catalog(
    "cadvisor",
    "google/cadvisor metrics/prometheus.go (served by the kubelet at /metrics/cadvisor)",
    counter=(
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_cpu_usage_seconds_total",
        "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total",
    ),
    gauge=(
        "container_fs_usage_bytes",
        "container_memory_rss",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
    ),
)

KUBELET = _catalog(
    "kubelet",
    "kubernetes pkg/kubelet/metrics (served by the kubelet at /metrics)",
    gauge=(
        "kubelet_node_name",
        "kubelet_running_containers",
        "kubelet_running_pods",
        "kubelet_volume_stats_available_bytes",
        "kubelet_volume_stats_capacity_bytes",
    ),
)

KUBE_APISERVER = _catalog(
    "kube-apiserver",
    "kubernetes k8s.io/apiserver endpoints/metrics, kube-aggregator controllers/status/metrics.go",
    counter=("apiserver_request_total",),
    gauge=("aggregator_unavailable_apiservice",),
    histogram=("apiserver_request_duration_seconds",),
)

PROMETHEUS_ADAPTER = _catalog(
    "prometheus-adapter",
    "kubernetes-sigs/prometheus-adapter pkg/client/metrics/metrics.go (+ k8s.io/apiserver metrics)",
    counter=("apiserver_request_total",),
    histogram=("prometheus_adapter_prometheus_client_request_duration_seconds",),
)

PROMETHEUS = _catalog(
    "prometheus",
    "prometheus/prometheus tsdb/{db,head}.go, rules/group.go, config reload, notifier",
    counter=(
        "prometheus_rule_evaluation_failures_total",
        "prometheus_rule_evaluations_total",
        "prometheus_rule_group_iterations_missed_total",
        "prometheus_tsdb_compactions_failed_total",
        "prometheus_tsdb_compactions_total",
        "prometheus_tsdb_head_samples_appended_total",
        "prometheus_tsdb_head_truncations_failed_total",
        "prometheus_tsdb_reloads_failures_total",
        "prometheus_tsdb_wal_corruptions_total",
    ),
    gauge=(
        "prometheus_build_info",
        "prometheus_config_last_reload_successful",
        "prometheus_rule_group_interval_seconds",
        "prometheus_rule_group_last_duration_seconds",
        "prometheus_tsdb_head_series",
        "prometheus_tsdb_retention_limit_bytes",
        "prometheus_tsdb_storage_blocks_bytes",
        "prometheus_tsdb_wal_storage_size_bytes",
    ),
    summary=("prometheus_target_interval_length_seconds",),
)

ALERTMANAGER = _catalog(
    "alertmanager",
    "prometheus/alertmanager notify/notify.go, config/coordinator.go, cluster/cluster.go",
    counter=("alertmanager_notifications_failed_total", "alertmanager_notifications_total"),
    gauge=("alertmanager_cluster_members", "alertmanager_config_last_reload_successful"),
)

SYNTHETIC = _catalog(
    "prometheus-synthetic",
    "series Prometheus writes itself: per scrape target (scrape loop) and per alert (rule manager)",
    gauge=(
        "ALERTS",
        "ALERTS_FOR_STATE",
        "scrape_duration_seconds",
        "scrape_samples_post_metric_relabeling",
        "scrape_samples_scraped",
        "scrape_series_added",
        "up",
    ),
)

GO_PROCESS = _catalog(
    "go-process",
    "prometheus/client_golang process and Go collectors (every Go component above)",
    counter=("process_cpu_seconds_total",),
    gauge=("go_goroutines", "process_resident_memory_bytes", "process_start_time_seconds"),
)

EXAMPLE_APP = _catalog(
    "example-app",
    "the example workload the HPA scales on its request rate",
    counter=(HTTP_REQUESTS_METRIC,),
)

RECORDING_RULES = _catalog(
    "recording-rules",
    "promstack.rules.recording_groups",
    gauge=sorted(recorded_metric_names()),
)

#: Every catalog, keyed by component.
CATALOGS: Final[Mapping[str, Catalog]] = MappingProxyType(
    {
        catalog.component: catalog
        for catalog in (
            NODE_EXPORTER,
            KUBE_STATE_METRICS,
            CADVISOR,
            KUBELET,
            KUBE_APISERVER,
            PROMETHEUS_ADAPTER,
            PROMETHEUS,
            ALERTMANAGER,
            SYNTHETIC,
            GO_PROCESS,
            EXAMPLE_APP,
            RECORDING_RULES,
        )
    }
)


@cache
def known_metric_names() -> frozenset[str]:
    """The union of every catalog's series names."""
    return frozenset().union(*(catalog.series_names() for catalog in CATALOGS.values()))


class PromQLError(ValueError):
    """An expression that does not parse as PromQL."""


def parse(expr: str) -> promql_parser.Expr:
    """Parse ``expr`` as PromQL; raises :class:`PromQLError` quoting the expression and the parser's reason."""
    try:
        return promql_parser.parse(expr)
    except ValueError as exc:
        raise PromQLError(f"invalid PromQL ({exc}): {expr}") from None


def metric_names_in(expr: str) -> set[str]:
    """Metric names the expression selects: selector names and exact ``__name__="..."`` matchers.

    A regex ``__name__=~"..."`` matcher names no single metric and is not reported.
    """
    return set(metric_names_in_order(expr))


def selector_names(selector: promql_parser.VectorSelector) -> list[str]:
    """The metric names one selector names: its name and its exact ``__name__="..."`` matchers."""
    names = [selector.name] if selector.name else []
    names += [m.value for m in selector.matchers.matchers
              if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal]
    return names


def metric_names_in_order(expr: str) -> list[str]:
    """The metric names of :func:`metric_names_in`, each once, in the order the expression names them."""
    names: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.extend(n for n in selector_names(node) if n not in names)

    promql_parser.walk(parse(expr), visit)
    return names


def unknown_metrics(expr: str) -> set[str]:
    """Metric names in ``expr`` that no catalog lists (empty when every name is known)."""
    return metric_names_in(expr) - known_metric_names()


_ADAPTER_FIELD = re.compile(r"<<\s*\.(\w+)\s*>>")
_ADAPTER_ACTION = re.compile(r"<<.*?>>", re.DOTALL)


def render_adapter_template(
    template: str,
    series: str,
    label_matchers: str = 'namespace="default",pod=~"a|b"',
    group_by: str = "pod",
) -> str:
    """A prometheus-adapter ``metricsQuery`` with its Go template fields filled in, ready to parse.

    Fills ``<<.Series>>``, ``<<.LabelMatchers>>`` and ``<<.GroupBy>>`` the way the adapter does for a
    request for pods ``a`` and ``b`` in namespace ``default``. Any other template action
    (``<<range ...>>``, ``<<.GroupBySlice>>``) raises ``ValueError`` naming it.
    """
    values = {"Series": series, "LabelMatchers": label_matchers, "GroupBy": group_by}

    def fill(match: re.Match[str]) -> str:
        field = match.group(1)
        if field not in values:
            raise ValueError(f"unsupported adapter template field <<.{field}>> in: {template}")
        return values[field]

    rendered = _ADAPTER_FIELD.sub(fill, template)
    leftover = _ADAPTER_ACTION.search(rendered)
    if leftover:
        raise ValueError(f"unsupported adapter template action {leftover.group(0)} in: {template}")
    return rendered


#: Grafana's interval variables, replaced by a fixed range so a dashboard query parses as PromQL.
_GRAFANA_INTERVALS = re.compile(r"\$\{?(__rate_interval|__interval|__range)(:\w+)?\}?")


def render_grafana_query(expr: str, interval: str = "5m") -> str:
    """A dashboard query with Grafana's interval variables (``$__rate_interval`` ...) set to ``interval``.

    Template variables such as ``$namespace`` are left alone: inside a label matcher's quoted value
    they are valid PromQL as written; anywhere else the query should fail to parse.
    """
    return _GRAFANA_INTERVALS.sub(interval, expr)
