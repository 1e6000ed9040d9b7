"""MonitoringStack: wiring only. Each component gets its config and the objects it depends on."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from promstack.content import catalog
from promstack.components import example_app
from promstack.config import names
from promstack.config.cluster import ClusterConfig, ConfigError
from promstack.components.example_app import ExampleApp
from promstack.content.hpa_check import check_hpas
from promstack.components.grafana import Grafana
from promstack.components.kube_state_metrics import KubeStateMetrics
from promstack.components.namespace import Namespace
from promstack.components.node_exporter import NodeExporter
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.adapter import PrometheusAdapter


class MonitoringStack:
    """Every component of one cluster, each its own chart (one dist/ file) directly under ``scope``;
    the adapter's APIServices go under ``apiservice_scope`` (default ``scope``)."""

    def __init__(self, scope: Construct, *, cluster: ClusterConfig, apiservice_scope: Construct | None = None) -> None:
        self.namespace = Namespace(scope, cluster=cluster)
        self.node_exporter = NodeExporter(scope, cluster=cluster)
        self.kube_state_metrics = KubeStateMetrics(scope, cluster=cluster)
        self.prometheus = Prometheus(
            scope, cluster=cluster,
            node_exporter_service=self.node_exporter.service.name,
            kube_state_metrics_service=self.kube_state_metrics.service.name,
            adapter_service=names.PROMETHEUS_ADAPTER,
        )
        self.example_app = ExampleApp(scope, cluster=cluster) if cluster.spec.example_app.enabled else None
        self.adapter = PrometheusAdapter(
            scope, cluster=cluster, prometheus=self.prometheus, apiservice_scope=apiservice_scope or Construct(scope, "apiservice"),
            extra_rules=[example_app.RULE] if self.example_app else [],
        )
        self.grafana = Grafana(scope, cluster=cluster, prometheus=self.prometheus)
        self._check_autoscaling(cluster)

    def _check_autoscaling(self, cluster: ClusterConfig) -> None:
        objects = [obj for chart in self.charts for obj in chart.to_json()]
        problems = check_hpas(
            [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"],
            [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "ReplicaSet"}],
            self.adapter.rules,
            catalog.known_metric_names(),
            cluster=cluster.name,
        )
        if problems:
            raise ConfigError(problems)

    @property
    def charts(self) -> list[Chart]:
        charts: list[Chart | None] = [self.namespace, self.node_exporter, self.kube_state_metrics, self.prometheus,
                                      self.example_app, self.adapter, self.adapter.api_services, self.grafana]
        return [c for c in charts if c is not None]
