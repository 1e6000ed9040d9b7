"""MonitoringStack: wiring only. Each component gets its config and the objects it depends on."""

from __future__ import annotations

from constructs import Construct

from promstack.config import ClusterConfig
from promstack.grafana import Grafana
from promstack.kube_state_metrics import KubeStateMetrics
from promstack.namespace import Namespace
from promstack.node_exporter import NodeExporter
from promstack.prometheus import Prometheus
from promstack.prometheus_adapter import PrometheusAdapter


class MonitoringStack:
    """Every component of one cluster, each its own chart (one dist/ file) directly under ``scope``."""

    def __init__(self, scope: Construct, *, cluster: ClusterConfig) -> None:
        self.namespace = Namespace(scope, cluster=cluster)
        self.node_exporter = NodeExporter(scope, cluster=cluster)
        self.kube_state_metrics = KubeStateMetrics(scope, cluster=cluster)
        self.prometheus = Prometheus(
            scope, cluster=cluster,
            node_exporter_service=self.node_exporter.service.name,
            kube_state_metrics_service=self.kube_state_metrics.service.name,
        )
        self.adapter = PrometheusAdapter(scope, cluster=cluster, prometheus=self.prometheus)
        self.grafana = Grafana(scope, cluster=cluster, prometheus=self.prometheus)
