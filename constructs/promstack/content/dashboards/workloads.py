"""Cluster workloads: CPU and memory by namespace and pod against requests and limits, restarts,
available versus desired replicas and pod phases (cAdvisor and kube-state-metrics)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from promstack.content.dashboards._common import (
    datasource_variable,
    new_dashboard,
    query_variable,
    target,
    timeseries_panel,
)
from promstack.content.rules import JOBS

UID = "promstack-workloads"
TITLE = "Cluster workloads"

_KSM = f'job="{JOBS["kube_state_metrics"]}"'
_NS = 'namespace=~"$namespace"'
_POD = f'{_NS}, pod=~"$pod"'


def _pod_resource(metric: str, resource: str) -> str:
    """Sum of a kube-state-metrics per-container resource series by namespace and pod."""
    return f'sum by (namespace, pod) ({metric}{{{_KSM}, {_POD}, resource="{resource}"}})'


def build() -> dashboard_builders.Dashboard:
    return (
        new_dashboard(UID, TITLE, "Workload resource use against requests and limits, restarts and replicas.")
        .with_variable(datasource_variable())
        .with_variable(
            query_variable("namespace", "Namespace", f"label_values(kube_namespace_status_phase{{{_KSM}}}, namespace)")
        )
        .with_variable(query_variable("pod", "Pod", f"label_values(kube_pod_info{{{_KSM}, {_NS}}}, pod)"))
        .with_row(dashboard_builders.Row("By namespace"))
        .with_panel(
            timeseries_panel(
                "CPU usage by namespace",
                "CPU cores used per namespace, with the CPU requested and limited by its running pods.",
                [
                    target(f"namespace:container_cpu_usage_seconds:rate5m{{{_NS}}}", "{{namespace}} used"),
                    target(
                        f'namespace_resource:kube_pod_container_resource_requests:sum{{{_NS}, resource="cpu"}}',
                        "{{namespace}} requested",
                    ),
                    target(
                        f'namespace_resource:kube_pod_container_resource_limits:sum{{{_NS}, resource="cpu"}}',
                        "{{namespace}} limit",
                    ),
                ],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Memory usage by namespace",
                "Working-set memory per namespace, with the memory requested and limited by its running pods.",
                [
                    target(f"namespace:container_memory_working_set_bytes:sum{{{_NS}}}", "{{namespace}} used"),
                    target(
                        f'namespace_resource:kube_pod_container_resource_requests:sum{{{_NS}, resource="memory"}}',
                        "{{namespace}} requested",
                    ),
                    target(
                        f'namespace_resource:kube_pod_container_resource_limits:sum{{{_NS}, resource="memory"}}',
                        "{{namespace}} limit",
                    ),
                ],
                unit="bytes",
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("By pod"))
        .with_panel(
            timeseries_panel(
                "CPU usage by pod",
                "CPU cores used per pod, with its containers' summed requests and limits.",
                [
                    target(
                        "sum by (namespace, pod) ("
                        f"namespace_pod_container:container_cpu_usage_seconds:rate5m{{{_POD}}})",
                        "{{namespace}}/{{pod}} used",
                    ),
                    target(
                        _pod_resource("kube_pod_container_resource_requests", "cpu"), "{{namespace}}/{{pod}} requested"
                    ),
                    target(_pod_resource("kube_pod_container_resource_limits", "cpu"), "{{namespace}}/{{pod}} limit"),
                ],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Memory usage by pod",
                "Working-set memory per pod (what the OOM killer and evictions look at), with requests and limits.",
                [
                    target(
                        "sum by (namespace, pod) ("
                        f"namespace_pod_container:container_memory_working_set_bytes:max{{{_POD}}})",
                        "{{namespace}}/{{pod}} used",
                    ),
                    target(
                        _pod_resource("kube_pod_container_resource_requests", "memory"),
                        "{{namespace}}/{{pod}} requested",
                    ),
                    target(
                        _pod_resource("kube_pod_container_resource_limits", "memory"), "{{namespace}}/{{pod}} limit"
                    ),
                ],
                unit="bytes",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Container restarts (last hour)",
                "Restarts per container over the past hour. KubePodCrashLooping fires on repeated restarts.",
                [
                    target(
                        "sum by (namespace, pod, container) ("
                        f"increase(kube_pod_container_status_restarts_total{{{_KSM}, {_POD}}}[1h])) > 0",
                        "{{namespace}}/{{pod}} {{container}}",
                    )
                ],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Containers waiting, by reason",
                "Containers not running and why (CrashLoopBackOff, ImagePullBackOff, ContainerCreating ...).",
                [
                    target(
                        f"sum by (namespace, reason) (kube_pod_container_status_waiting_reason{{{_KSM}, {_POD}}})",
                        "{{namespace}} {{reason}}",
                    )
                ],
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("Replicas and phases"))
        .with_panel(
            timeseries_panel(
                "Deployment replicas: available vs desired",
                "Available replicas (solid) against the replicas each Deployment asks for.",
                [
                    target(
                        f"kube_deployment_status_replicas_available{{{_KSM}, {_NS}}}",
                        "{{namespace}}/{{deployment}} available",
                    ),
                    target(
                        f"kube_deployment_spec_replicas{{{_KSM}, {_NS}}}",
                        "{{namespace}}/{{deployment}} desired",
                    ),
                ],
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Pods by phase",
                "Number of pods in each phase (Pending, Running, Succeeded, Failed, Unknown).",
                [
                    target(
                        f"sum by (phase) (kube_pod_status_phase{{{_KSM}, {_NS}}})",
                        "{{phase}}",
                    )
                ],
                stacked=True,
                min_value=0,
            )
        )
    )
