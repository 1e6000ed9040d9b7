"""Prometheus recording and alerting rules, rendered as the two rule files Prometheus loads.

Prometheus mounts the output of :func:`rule_files` at :data:`RULES_DIR` and loads it with
``rule_files: [RULE_FILES_GLOB]``. Thresholds and ``for`` durations come from :class:`AlertsConfig`;
scrape job names come from :data:`JOBS`, the one place they are spelled, so the scrape config and the
rules cannot drift apart.

Recording rules follow the Prometheus naming convention ``level:metric:operations``: *level* lists
the labels kept, *metric* is the source metric (``_total`` dropped once rated), *operations* the
newest operation first (``rate5m``, ``ratio``, ``sum``).

The rendered text is deterministic: groups and rules keep their declared order (recording rules must
come after the rules they read, since a group evaluates its rules in order), each rule's keys are in
Prometheus' documented order, and labels and annotations are sorted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import Field, model_validator

from promstack.config import names, yamlio
from promstack.config.model import DnsSubdomain, Duration, Model

#: Scrape job names, keyed by what is scraped. The Prometheus scrape config and every rule and
#: dashboard use these; a rename happens here once.
JOBS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "apiserver": "kubernetes-apiservers",
        "kubelet": "kubernetes-nodes",
        "cadvisor": "kubernetes-cadvisor",
        "node_exporter": "node-exporter",
        "kube_state_metrics": "kube-state-metrics",
        "prometheus": "prometheus",
        "service_endpoints": "kubernetes-service-endpoints",
        "pods": "kubernetes-pods",
        "adapter": "prometheus-adapter",
        "alertmanager": "alertmanager",
    }
)
#: The opt-in control-plane jobs (prometheus.controlPlane), keyed by their setting.
CONTROL_PLANE_JOBS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "scheduler": "kube-scheduler",
        "controller_manager": "kube-controller-manager",
        "etcd": "etcd",
        "core_dns": "coredns",
    }
)

#: Where Prometheus finds the rule files, and the glob its ``rule_files`` setting uses.
RULES_DIR: Final = "/etc/prometheus/rules"
RULE_FILES_GLOB: Final = f"{RULES_DIR}/*.rules.yaml"
RECORDING_RULES_FILE: Final = "recording.rules.yaml"
ALERTING_RULES_FILE: Final = "alerts.rules.yaml"

#: APIServices the adapter serves; the aggregator reports each one's availability by this name.
CUSTOM_METRICS_APISERVICES: Final = names.CUSTOM_METRICS_APISERVICES

#: The example app's request counter, served by the adapter as the custom metric ``http_requests``.
HTTP_REQUESTS_METRIC: Final = "http_requests_total"

Percent = Annotated[float, Field(gt=0, lt=100)]


class AlertsConfig(Model):
    """Alert thresholds and ``for`` durations. Every field has a default; a cluster overrides a few.

    Defaults:
      targetDownPercent 10 / targetDownFor 10m: share of a job's targets down before TargetDown.
      exporterDownFor 5m: NodeExporterDown, KubeStateMetricsDown, PrometheusAdapterDown.
      filesystemFreePercentWarning 15, filesystemFreePercentCritical 5, filesystemFor 15m.
      memoryAvailablePercent 10, memoryFor 15m: NodeMemoryPressure.
      crashloopRestartsPer15m 3, crashloopFor 5m: KubePodCrashLooping.
      apiserviceUnavailableFor 5m: CustomMetricsAPIServiceUnavailable.
      customMetricsApiservices v1beta1/v1beta2.custom.metrics.k8s.io: the APIServices watched.
      ruleFailuresFor 15m: PrometheusRuleEvaluationFailures.
      badConfigFor 10m: PrometheusBadConfig.
      tsdbFailuresFor 4h: PrometheusTSDBCompactionsFailing, PrometheusTSDBReloadsFailing (a single
      failure is retried; only failures that persist past one block cycle are worth a human).
      retentionSizeUsedPercent 90, retentionSizeFor 1h: PrometheusStorageNearRetentionSize.
      volumeFreePercentWarning 10, volumeFreePercentCritical 3, volumeFor 5m: KubePersistentVolumeFillingUp.
      nodeNotReadyFor 15m: KubeNodeNotReady (it also silences every other alert about that node).
      notificationsFailedPercent 1, notificationsFailedFor 5m: AlertmanagerFailedToSendAlerts.
    Durations are Prometheus durations (``0s``: fire at the first failing evaluation).
    """

    target_down_percent: Percent = 10.0
    target_down_for: Duration = "10m"
    exporter_down_for: Duration = "5m"
    filesystem_free_percent_warning: Percent = 15.0
    filesystem_free_percent_critical: Percent = 5.0
    filesystem_for: Duration = "15m"
    memory_available_percent: Percent = 10.0
    memory_for: Duration = "15m"
    crashloop_restarts_per_15m: int = Field(default=3, ge=1, le=1000, alias="crashloopRestartsPer15m")
    crashloop_for: Duration = "5m"
    apiservice_unavailable_for: Duration = "5m"
    # strict=False: YAML gives a list.
    custom_metrics_apiservices: tuple[DnsSubdomain, ...] = Field(
        default=CUSTOM_METRICS_APISERVICES, min_length=1, max_length=10, strict=False
    )
    rule_failures_for: Duration = "15m"
    bad_config_for: Duration = "10m"
    tsdb_failures_for: Duration = "4h"
    retention_size_used_percent: Percent = 90.0
    retention_size_for: Duration = "1h"
    volume_free_percent_warning: Percent = 10.0
    volume_free_percent_critical: Percent = 3.0
    volume_for: Duration = "5m"
    node_not_ready_for: Duration = "15m"
    notifications_failed_percent: Percent = 1.0
    notifications_failed_for: Duration = "5m"

    @model_validator(mode="after")
    def _warning_before_critical(self) -> AlertsConfig:
        if self.filesystem_free_percent_critical >= self.filesystem_free_percent_warning:
            raise ValueError(
                "filesystemFreePercentCritical must be below filesystemFreePercentWarning "
                f"(got {self.filesystem_free_percent_critical} >= {self.filesystem_free_percent_warning})"
            )
        if self.volume_free_percent_critical >= self.volume_free_percent_warning:
            raise ValueError(
                "volumeFreePercentCritical must be below volumeFreePercentWarning "
                f"(got {self.volume_free_percent_critical} >= {self.volume_free_percent_warning})"
            )
        return self


@dataclass(frozen=True)
class RecordingRule:
    """``record: <name>`` = ``expr``."""

    record: str
    expr: str

    @property
    def name(self) -> str:
        return self.record

    def to_prometheus(self) -> dict[str, Any]:
        return {"record": self.record, "expr": self.expr}


@dataclass(frozen=True)
class AlertingRule:
    """An alert with its severity, a one-line summary and a description saying what it means."""

    alert: str
    expr: str
    #: ``none`` only for the Watchdog, which is a heartbeat and never a page.
    severity: Literal["warning", "critical", "none"]
    summary: str
    description: str
    for_: str | None = None

    @property
    def name(self) -> str:
        return self.alert

    def to_prometheus(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ is not None:
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"description": self.description, "summary": self.summary}
        return rule


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]

    def to_prometheus(self) -> dict[str, Any]:
        return {"name": self.name, "rules": [rule.to_prometheus() for rule in self.rules]}


def _job(jobs: Mapping[str, str], key: str) -> str:
    try:
        return jobs[key]
    except KeyError:
        raise KeyError(f"jobs has no {key!r} entry; expected the keys of promstack.rules.JOBS") from None


def promql_regex_alternatives(values: tuple[str, ...]) -> str:
    """The body of a double-quoted PromQL regex matching exactly ``values`` (dots escaped, backslashes doubled)."""
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in values)


# --------------------------------------------------------------------------------------------
# Recording rules
# --------------------------------------------------------------------------------------------


def recording_groups(*, jobs: Mapping[str, str] = JOBS) -> tuple[RuleGroup, ...]:
    """The recording rules the dashboards read (and the HTTP request rate the adapter also serves)."""
    node = f'job="{_job(jobs, "node_exporter")}"'
    cadvisor = f'job="{_job(jobs, "cadvisor")}"'
    ksm = f'job="{_job(jobs, "kube_state_metrics")}"'
    # Pods still holding resources: completed Jobs keep their request series in kube-state-metrics.
    active_pods = f'max by (namespace, pod) (kube_pod_status_phase{{{ksm}, phase=~"Pending|Running"}} == 1)'
    return (
        RuleGroup(
            "promstack.node.rules",
            (
                RecordingRule(
                    "instance:node_num_cpu:sum",
                    f'count without (cpu, mode) (node_cpu_seconds_total{{{node}, mode="idle"}})',
                ),
                RecordingRule(
                    "instance:node_cpu_utilisation:rate5m",
                    "1 - avg without (cpu) (sum without (mode) ("
                    f'rate(node_cpu_seconds_total{{{node}, mode=~"idle|iowait|steal"}}[5m])))',
                ),
                RecordingRule(
                    "instance:node_load1_per_cpu:ratio",
                    f"node_load1{{{node}}} / instance:node_num_cpu:sum{{{node}}}",
                ),
                RecordingRule(
                    "instance:node_memory_utilisation:ratio",
                    f"1 - (node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}})",
                ),
                RecordingRule(
                    "instance:node_network_receive_bytes_excluding_lo:rate5m",
                    f'sum without (device) (rate(node_network_receive_bytes_total{{{node}, device!="lo"}}[5m]))',
                ),
                RecordingRule(
                    "instance:node_network_transmit_bytes_excluding_lo:rate5m",
                    f'sum without (device) (rate(node_network_transmit_bytes_total{{{node}, device!="lo"}}[5m]))',
                ),
                RecordingRule(
                    "instance_device:node_disk_io_time_seconds:rate5m",
                    f"rate(node_disk_io_time_seconds_total{{{node}}}[5m])",
                ),
            ),
        ),
        RuleGroup(
            "promstack.workloads.rules",
            (
                RecordingRule(
                    "namespace_pod_container:container_cpu_usage_seconds:rate5m",
                    "sum by (namespace, pod, container) ("
                    f'rate(container_cpu_usage_seconds_total{{{cadvisor}, container!="", image!=""}}[5m]))',
                ),
                RecordingRule(
                    "namespace:container_cpu_usage_seconds:rate5m",
                    "sum by (namespace) (namespace_pod_container:container_cpu_usage_seconds:rate5m)",
                ),
                RecordingRule(
                    "namespace_pod_container:container_memory_working_set_bytes:max",
                    "max by (namespace, pod, container) ("
                    f'container_memory_working_set_bytes{{{cadvisor}, container!="", image!=""}})',
                ),
                RecordingRule(
                    "namespace:container_memory_working_set_bytes:sum",
                    "sum by (namespace) (namespace_pod_container:container_memory_working_set_bytes:max)",
                ),
                RecordingRule(
                    "namespace_resource:kube_pod_container_resource_requests:sum",
                    f"sum by (namespace, resource) (kube_pod_container_resource_requests{{{ksm}}} "
                    f"* on (namespace, pod) group_left () {active_pods})",
                ),
                RecordingRule(
                    "namespace_resource:kube_pod_container_resource_limits:sum",
                    f"sum by (namespace, resource) (kube_pod_container_resource_limits{{{ksm}}} "
                    f"* on (namespace, pod) group_left () {active_pods})",
                ),
            ),
        ),
        RuleGroup(
            "promstack.custom-metrics.rules",
            (
                # The same 5m window as the adapter's default rule, so the dashboard shows what the HPA sees.
                RecordingRule(
                    "namespace_pod:http_requests:rate5m",
                    f'sum by (namespace, pod) (rate({HTTP_REQUESTS_METRIC}{{namespace!="", pod!=""}}[5m]))',
                ),
                RecordingRule(
                    "namespace:http_requests:rate5m",
                    "sum by (namespace) (namespace_pod:http_requests:rate5m)",
                ),
            ),
        ),
    )


def recorded_metric_names() -> frozenset[str]:
    """Every series name the recording rules produce (the metric catalog includes them)."""
    return frozenset(
        rule.record for group in recording_groups() for rule in group.rules if isinstance(rule, RecordingRule)
    )


# --------------------------------------------------------------------------------------------
# Alerting rules
# --------------------------------------------------------------------------------------------


def _down_or_absent(job: str) -> str:
    # `absent` covers the target vanishing from service discovery (e.g. the workload was deleted),
    # which `up == 0` alone never reports.
    return f'up{{job="{job}"}} == 0 or absent(up{{job="{job}"}})'


_TARGET = "{{ with $labels.instance }}{{ . }}{{ else }}(no target discovered){{ end }}"


def alerting_groups(cfg: AlertsConfig, *, jobs: Mapping[str, str] = JOBS) -> tuple[RuleGroup, ...]:
    """The alerts, grouped by the component they watch."""
    node_job = _job(jobs, "node_exporter")
    ksm_job = _job(jobs, "kube_state_metrics")
    prom = f'job="{_job(jobs, "prometheus")}"'
    fs = f'job="{node_job}", fstype!="", mountpoint!=""'
    fs_free = f"node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} * 100"
    fs_writable = f"node_filesystem_readonly{{{fs}}} == 0"
    apiservices = promql_regex_alternatives(cfg.custom_metrics_apiservices)

    kubelet = f'job="{_job(jobs, "kubelet")}"'
    am_job = _job(jobs, "alertmanager")
    am = f'job="{am_job}"'
    volume_free = (f"kubelet_volume_stats_available_bytes{{{kubelet}}}"
                   f" / kubelet_volume_stats_capacity_bytes{{{kubelet}}} * 100")

    def volume(severity: Literal["warning", "critical"], percent: float) -> AlertingRule:
        return AlertingRule(
            alert="KubePersistentVolumeFillingUp",
            expr=f"max by (namespace, persistentvolumeclaim) (\n  {volume_free} < {percent:g}\n)",
            for_=cfg.volume_for,
            severity=severity,
            summary=f"A PersistentVolume has less than {percent:g}% space left.",
            description=(
                "The volume of claim {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has "
                f'{{{{ printf "%.1f" $value }}}}% space left (threshold {percent:g}%); Prometheus and '
                "Alertmanager stop writing when theirs is full."
            ),
        )

    def filesystem(severity: Literal["warning", "critical"], percent: float) -> AlertingRule:
        return AlertingRule(
            alert="NodeFilesystemAlmostFull",
            expr=f"(\n  {fs_free} < {percent:g}\n)\nand\n  {fs_writable}",
            for_=cfg.filesystem_for,
            severity=severity,
            summary=f"Filesystem has less than {percent:g}% space left.",
            description=(
                "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} has "
                f'{{{{ printf "%.1f" $value }}}}% space left (threshold {percent:g}%).'
            ),
        )

    return (
        RuleGroup(
            "promstack.meta.alerts",
            (
                AlertingRule(
                    alert="Watchdog",
                    expr="vector(1)",
                    severity="none",
                    summary="The alerting pipeline is alive.",
                    description=(
                        "Always firing, on purpose: Alertmanager sends it to the heartbeat receiver every "
                        "minute. When that receiver stops hearing it, Prometheus, Alertmanager or the path "
                        "between them is broken, and no other alert can reach anyone."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.targets.alerts",
            (
                AlertingRule(
                    alert="TargetDown",
                    expr=f"100 * (count by (job) (up == 0) / count by (job) (up)) > {cfg.target_down_percent:g}",
                    for_=cfg.target_down_for,
                    severity="warning",
                    summary="Scrape targets are down.",
                    description=(
                        '{{ printf "%.0f" $value }}% of the {{ $labels.job }} targets are unreachable; '
                        "their metrics are missing from dashboards, the adapter and alerts."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.node.alerts",
            (
                AlertingRule(
                    alert="NodeExporterDown",
                    expr=_down_or_absent(node_job),
                    for_=cfg.exporter_down_for,
                    severity="critical",
                    summary="node-exporter is down.",
                    description=(
                        f"node-exporter target {_TARGET} is not being scraped; node CPU, memory and "
                        "filesystem alerts for that node cannot fire."
                    ),
                ),
                filesystem("warning", cfg.filesystem_free_percent_warning),
                filesystem("critical", cfg.filesystem_free_percent_critical),
                AlertingRule(
                    alert="KubeNodeNotReady",
                    expr=(f'max by (node) (kube_node_status_condition{{job="{ksm_job}", condition="Ready", '
                          'status="true"}) == 0'),
                    for_=cfg.node_not_ready_for,
                    severity="warning",
                    summary="A node is not ready.",
                    description=(
                        "Node {{ $labels.node }} has not been Ready for "
                        f"{cfg.node_not_ready_for}; its pods are being evicted or cannot run. Other alerts "
                        "about this node are held back while this one fires."
                    ),
                ),
                AlertingRule(
                    alert="NodeMemoryPressure",
                    expr=(
                        f'node_memory_MemAvailable_bytes{{job="{node_job}"}} '
                        f'/ node_memory_MemTotal_bytes{{job="{node_job}"}} * 100 < {cfg.memory_available_percent:g}'
                    ),
                    for_=cfg.memory_for,
                    severity="warning",
                    summary=f"Node has less than {cfg.memory_available_percent:g}% memory available.",
                    description=(
                        '{{ $labels.instance }} has {{ printf "%.1f" $value }}% of its memory available; '
                        "the kernel may start OOM-killing pods or the kubelet may evict them."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.workloads.alerts",
            (
                AlertingRule(
                    alert="KubeStateMetricsDown",
                    expr=_down_or_absent(ksm_job),
                    for_=cfg.exporter_down_for,
                    severity="critical",
                    summary="kube-state-metrics is down.",
                    description=(
                        f"kube-state-metrics target {_TARGET} is not being scraped; workload, replica and "
                        "HPA metrics are missing and KubePodCrashLooping cannot fire."
                    ),
                ),
                AlertingRule(
                    alert="KubePodCrashLooping",
                    # Restarts alone miss a container at the kubelet's 5-minute back-off cap (about 3
                    # restarts per 15 minutes); the CrashLoopBackOff waiting reason catches it.
                    expr=(
                        "max by (namespace, pod, container) (\n"
                        f'  increase(kube_pod_container_status_restarts_total{{job="{ksm_job}"}}[15m])\n'
                        f") >= {cfg.crashloop_restarts_per_15m}\n"
                        "or\n"
                        "max by (namespace, pod, container) (\n"
                        "  max_over_time(kube_pod_container_status_waiting_reason"
                        f'{{job="{ksm_job}", reason="CrashLoopBackOff"}}[5m])\n'
                        ") >= 1"
                    ),
                    for_=cfg.crashloop_for,
                    severity="warning",
                    summary="A container is crash looping.",
                    description=(
                        "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} "
                        f"restarted at least {cfg.crashloop_restarts_per_15m} times in 15 minutes or is "
                        "waiting in CrashLoopBackOff."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.custom-metrics.alerts",
            (
                AlertingRule(
                    alert="CustomMetricsAPIServiceUnavailable",
                    expr=(
                        "max by (name) (aggregator_unavailable_apiservice"
                        f'{{job="{_job(jobs, "apiserver")}", name=~"{apiservices}"}}) == 1'
                    ),
                    for_=cfg.apiservice_unavailable_for,
                    severity="critical",
                    summary="The custom metrics API is unavailable.",
                    description=(
                        "The API server marks APIService {{ $labels.name }} unavailable: it cannot reach "
                        "prometheus-adapter, so HorizontalPodAutoscalers on custom metrics cannot scale."
                    ),
                ),
                AlertingRule(
                    alert="PrometheusAdapterDown",
                    expr=f'up{{job="{_job(jobs, "adapter")}"}} == 0',
                    for_=cfg.exporter_down_for,
                    severity="warning",
                    summary="A prometheus-adapter replica is down.",
                    description=(
                        "prometheus-adapter {{ $labels.instance }} does not answer scrapes; if no replica "
                        "is left, CustomMetricsAPIServiceUnavailable follows."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.storage.alerts",
            (
                volume("warning", cfg.volume_free_percent_warning),
                volume("critical", cfg.volume_free_percent_critical),
                AlertingRule(
                    alert="PrometheusStorageNearRetentionSize",
                    expr=(
                        f"prometheus_tsdb_storage_blocks_bytes{{{prom}}}\n"
                        f"  / (prometheus_tsdb_retention_limit_bytes{{{prom}}} > 0) * 100\n"
                        f"  > {cfg.retention_size_used_percent:g}"
                    ),
                    for_=cfg.retention_size_for,
                    severity="warning",
                    summary="Prometheus storage is close to its retention size.",
                    description=(
                        'Prometheus {{ $labels.instance }} uses {{ printf "%.0f" $value }}% of its retention '
                        "size: it now deletes the oldest blocks to stay under it, so it keeps less history "
                        "than its retention time. Grow the volume or shorten the retention."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.alertmanager.alerts",
            (
                AlertingRule(
                    alert="AlertmanagerDown",
                    expr=_down_or_absent(am_job),
                    for_=cfg.exporter_down_for,
                    severity="critical",
                    summary="Alertmanager is down.",
                    description=(
                        f"Alertmanager target {_TARGET} is not being scraped; if no replica is left, no "
                        "alert reaches anyone (the heartbeat receiver notices)."
                    ),
                ),
                AlertingRule(
                    alert="AlertmanagerFailedToSendAlerts",
                    expr=(
                        f"rate(alertmanager_notifications_failed_total{{{am}}}[5m])\n"
                        "  / ignoring (reason) group_left\n"
                        f"rate(alertmanager_notifications_total{{{am}}}[5m]) * 100\n"
                        f"  > {cfg.notifications_failed_percent:g}"
                    ),
                    for_=cfg.notifications_failed_for,
                    severity="warning",
                    summary="Alertmanager fails to send notifications.",
                    description=(
                        'Alertmanager {{ $labels.instance }} failed to send {{ printf "%.1f" $value }}% of its '
                        "{{ $labels.integration }} notifications in the last 5 minutes; check the receiver's "
                        "sealed secret and the network path to it."
                    ),
                ),
                AlertingRule(
                    alert="AlertmanagerFailedReload",
                    expr=f"max_over_time(alertmanager_config_last_reload_successful{{{am}}}[5m]) == 0",
                    for_=cfg.bad_config_for,
                    severity="critical",
                    summary="Alertmanager failed to reload its configuration.",
                    description=(
                        "Alertmanager {{ $labels.instance }} rejected its last configuration and keeps "
                        "routing with the previous one; the committed routing is not in effect."
                    ),
                ),
                AlertingRule(
                    alert="AlertmanagerMembersInconsistent",
                    expr=(
                        f"max_over_time(alertmanager_cluster_members{{{am}}}[5m])\n"
                        "  < on (job) group_left\n"
                        f"count by (job) (max_over_time(alertmanager_cluster_members{{{am}}}[5m]))"
                    ),
                    for_=cfg.exporter_down_for,
                    severity="critical",
                    summary="Alertmanager replicas do not see each other.",
                    description=(
                        "Alertmanager {{ $labels.instance }} sees {{ $value }} members of its mesh, fewer than "
                        "the replicas scraped: silences and notification state are no longer shared, so "
                        "alerts may be sent twice or silenced only on some replicas."
                    ),
                ),
            ),
        ),
        RuleGroup(
            "promstack.prometheus.alerts",
            (
                AlertingRule(
                    alert="PrometheusBadConfig",
                    expr=f"max_over_time(prometheus_config_last_reload_successful{{{prom}}}[5m]) == 0",
                    for_=cfg.bad_config_for,
                    severity="critical",
                    summary="Prometheus failed to reload its configuration.",
                    description=(
                        "Prometheus {{ $labels.instance }} rejected its last configuration reload and keeps "
                        "running the previous one; the committed configuration is not in effect."
                    ),
                ),
                AlertingRule(
                    alert="PrometheusRuleEvaluationFailures",
                    expr=f"increase(prometheus_rule_evaluation_failures_total{{{prom}}}[5m]) > 0",
                    for_=cfg.rule_failures_for,
                    severity="critical",
                    summary="Prometheus is failing to evaluate rules.",
                    description=(
                        'Prometheus {{ $labels.instance }} failed {{ printf "%.0f" $value }} rule evaluations '
                        "in rule group {{ $labels.rule_group }} in the last 5 minutes; recorded series and "
                        "alerts from that group may be missing."
                    ),
                ),
                AlertingRule(
                    alert="PrometheusTSDBCompactionsFailing",
                    expr=f"increase(prometheus_tsdb_compactions_failed_total{{{prom}}}[3h]) > 0",
                    for_=cfg.tsdb_failures_for,
                    severity="warning",
                    summary="Prometheus is failing to compact its storage.",
                    description=(
                        'Prometheus {{ $labels.instance }} had {{ printf "%.0f" $value }} failed compactions '
                        "in the last 3 hours; the head block grows in memory and on disk until it succeeds."
                    ),
                ),
                AlertingRule(
                    alert="PrometheusTSDBReloadsFailing",
                    expr=f"increase(prometheus_tsdb_reloads_failures_total{{{prom}}}[3h]) > 0",
                    for_=cfg.tsdb_failures_for,
                    severity="warning",
                    summary="Prometheus is failing to reload blocks from disk.",
                    description=(
                        'Prometheus {{ $labels.instance }} failed {{ printf "%.0f" $value }} times in the last '
                        "3 hours to load data blocks from disk; queries may miss data and retention may stall."
                    ),
                ),
                AlertingRule(
                    alert="PrometheusTSDBWALCorruptions",
                    # The counter starts at 0 with the process, so a corruption found while replaying the
                    # WAL at start-up is counted before the first scrape: `increase` alone misses it.
                    expr=(
                        "max by (job, instance) (\n"
                        f"  increase(prometheus_tsdb_wal_corruptions_total{{{prom}}}[3h]) > 0\n"
                        "  or\n"
                        f"  (\n    prometheus_tsdb_wal_corruptions_total{{{prom}}} > 0\n"
                        "    and on (job, instance)\n"
                        f"    time() - process_start_time_seconds{{{prom}}} < 3 * 3600\n  )\n)"
                    ),
                    severity="warning",
                    summary="Prometheus found a corrupted write-ahead log.",
                    description=(
                        "Prometheus {{ $labels.instance }} found a corrupted write-ahead log in the last 3 hours "
                        "and repaired it by dropping the records after the corruption: recent samples may be lost. "
                        "Check the volume for disk or filesystem errors."
                    ),
                ),
            ),
        ),
    )


def iter_rules(cfg: AlertsConfig, *, jobs: Mapping[str, str] = JOBS) -> Iterator[tuple[str, str, Rule]]:
    """Every rule as (file name, group name, rule), in rendering order: for tests and checks."""
    for filename, groups in (
        (RECORDING_RULES_FILE, recording_groups(jobs=jobs)),
        (ALERTING_RULES_FILE, alerting_groups(cfg, jobs=jobs)),
    ):
        for group in groups:
            for rule in group.rules:
                yield filename, group.name, rule


def _render(groups: tuple[RuleGroup, ...]) -> str:
    # Wide lines: a PromQL expression is never folded mid-selector.
    return yamlio.dump({"groups": [group.to_prometheus() for group in groups]}, width=4096)


def rule_files(cfg: AlertsConfig, *, jobs: Mapping[str, str] = JOBS) -> dict[str, str]:
    """``{"recording.rules.yaml": text, "alerts.rules.yaml": text}``, byte-stable for the same input."""
    return {
        ALERTING_RULES_FILE: _render(alerting_groups(cfg, jobs=jobs)),
        RECORDING_RULES_FILE: _render(recording_groups(jobs=jobs)),
    }
