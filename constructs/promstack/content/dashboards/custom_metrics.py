"""Custom metrics and autoscaling: the custom metrics API's health, the metrics the adapter serves
(the example app's request rate) and each HorizontalPodAutoscaler's replicas and targets."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from promstack.content.dashboards._common import (
    datasource_variable,
    new_dashboard,
    query_variable,
    stat_panel,
    target,
    timeseries_panel,
)
from promstack.content.rules import CUSTOM_METRICS_APISERVICES, JOBS, promql_regex_alternatives

UID = "promstack-custom-metrics"
TITLE = "Custom metrics and autoscaling"

_KSM = f'job="{JOBS["kube_state_metrics"]}"'
_ADAPTER = f'job="{JOBS["adapter"]}"'
_NS = 'namespace=~"$namespace"'
_HPA = f'{_KSM}, {_NS}, horizontalpodautoscaler=~"$hpa"'
_APISERVICES = promql_regex_alternatives(CUSTOM_METRICS_APISERVICES)


def build() -> dashboard_builders.Dashboard:
    return (
        new_dashboard(UID, TITLE, "The custom metrics API, the metrics it serves and the autoscalers using them.")
        .with_variable(datasource_variable())
        .with_variable(
            query_variable("namespace", "Namespace", f"label_values(kube_namespace_status_phase{{{_KSM}}}, namespace)")
        )
        .with_variable(query_variable("pod", "Pod", f"label_values(namespace_pod:http_requests:rate5m{{{_NS}}}, pod)"))
        .with_variable(
            query_variable(
                "hpa",
                "HorizontalPodAutoscaler",
                "label_values(kube_horizontalpodautoscaler_spec_max_replicas"
                f"{{{_KSM}, {_NS}}}, horizontalpodautoscaler)",
            )
        )
        .with_row(dashboard_builders.Row("Custom metrics API"))
        .with_panel(
            stat_panel(
                "Custom metrics APIService available",
                "Whether the API server can reach prometheus-adapter through each custom metrics APIService.",
                [
                    target(
                        "1 - max by (name) (aggregator_unavailable_apiservice"
                        f'{{job="{JOBS["apiserver"]}", name=~"{_APISERVICES}"}})',
                        "{{name}}",
                    )
                ],
                unit="bool_yes_no",
                height=8,
            )
        )
        .with_panel(
            stat_panel(
                "Adapter replicas up",
                "prometheus-adapter replicas answering scrapes.",
                [target(f"sum(up{{{_ADAPTER}}})", "replicas up")],
                height=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Adapter queries to Prometheus (p99 latency)",
                "99th percentile latency of the adapter's queries to Prometheus, by Prometheus API path.",
                [
                    # The adapter labels this histogram path (/api/v1/query, /api/v1/series ...) and
                    # server (the Prometheus URL): pkg/client/metrics/metrics.go.
                    target(
                        "histogram_quantile(0.99, sum by (le, path) ("
                        "rate(prometheus_adapter_prometheus_client_request_duration_seconds_bucket"
                        f"{{{_ADAPTER}}}[$__rate_interval])))",
                        "{{path}}",
                    )
                ],
                unit="s",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "Custom metrics API requests",
                "Requests the adapter answers (mostly the HPA controller), by HTTP status code.",
                [target(f"sum by (code) (rate(apiserver_request_total{{{_ADAPTER}}}[$__rate_interval]))", "{{code}}")],
                unit="reqps",
                min_value=0,
                width=24,
            )
        )
        .with_row(dashboard_builders.Row("Served metrics"))
        .with_panel(
            timeseries_panel(
                "HTTP request rate per pod (custom metric http_requests)",
                "Requests per second per pod over 5 minutes: the value the adapter serves as http_requests.",
                [target(f'namespace_pod:http_requests:rate5m{{{_NS}, pod=~"$pod"}}', "{{namespace}}/{{pod}}")],
                unit="reqps",
                min_value=0,
            )
        )
        .with_panel(
            timeseries_panel(
                "HTTP request rate per namespace",
                "Requests per second per namespace over 5 minutes.",
                [target(f"namespace:http_requests:rate5m{{{_NS}}}", "{{namespace}}")],
                unit="reqps",
                min_value=0,
            )
        )
        .with_row(dashboard_builders.Row("HorizontalPodAutoscalers"))
        .with_panel(
            timeseries_panel(
                "Replicas: $hpa",
                "Current and desired replicas between the autoscaler's min and max.",
                [
                    target(f"kube_horizontalpodautoscaler_status_current_replicas{{{_HPA}}}", "current"),
                    target(f"kube_horizontalpodautoscaler_status_desired_replicas{{{_HPA}}}", "desired"),
                    target(f"kube_horizontalpodautoscaler_spec_min_replicas{{{_HPA}}}", "min"),
                    target(f"kube_horizontalpodautoscaler_spec_max_replicas{{{_HPA}}}", "max"),
                ],
                min_value=0,
                width=24,
                repeat="hpa",
            )
        )
        .with_panel(
            timeseries_panel(
                "Metric target vs current: $hpa",
                "Each metric the autoscaler scales on: its target and its current value.",
                [
                    target(
                        f"kube_horizontalpodautoscaler_spec_target_metric{{{_HPA}}}",
                        "{{metric_name}} target ({{metric_target_type}})",
                    ),
                    target(
                        f"kube_horizontalpodautoscaler_status_target_metric{{{_HPA}}}",
                        "{{metric_name}} current ({{metric_target_type}})",
                    ),
                ],
                width=24,
                repeat="hpa",
            )
        )
        .with_panel(
            timeseries_panel(
                "Autoscalers held at min or max replicas",
                "Autoscalers whose ScalingLimited condition is true: they want more or fewer replicas than allowed.",
                [
                    target(
                        "kube_horizontalpodautoscaler_status_condition"
                        f'{{{_KSM}, {_NS}, condition="ScalingLimited", status="true"}} == 1',
                        "{{namespace}}/{{horizontalpodautoscaler}}",
                    )
                ],
                min_value=0,
                width=24,
            )
        )
    )
