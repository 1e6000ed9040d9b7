"""The constructs a cdk8s user can reuse, one module per component.

    from promstack.components import NodeExporter, Prometheus

Each is ``(scope, id_, *, props...)`` with its own settings model and exposes its main L1
objects as attributes. Imported lazily, so ``promstack.components.<module>`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promstack.components.alertmanager import Alertmanager
    from promstack.components.autoscaling import Autoscaling
    from promstack.components.base import StackContext
    from promstack.components.example_app import ExampleApp
    from promstack.components.grafana import Grafana
    from promstack.components.kube_state_metrics import KubeStateMetrics
    from promstack.components.namespace import Namespace
    from promstack.components.node_exporter import NodeExporter
    from promstack.components.prometheus import Prometheus
    from promstack.components.prometheus_adapter.adapter import PrometheusAdapter

_HOMES = {
    "Alertmanager": "alertmanager",
    "Autoscaling": "autoscaling",
    "ExampleApp": "example_app",
    "Grafana": "grafana",
    "KubeStateMetrics": "kube_state_metrics",
    "Namespace": "namespace",
    "NodeExporter": "node_exporter",
    "Prometheus": "prometheus",
    "PrometheusAdapter": "prometheus_adapter.adapter",
    "StackContext": "base",
}
__all__ = [
    "Alertmanager",
    "Autoscaling",
    "ExampleApp",
    "Grafana",
    "KubeStateMetrics",
    "Namespace",
    "NodeExporter",
    "Prometheus",
    "PrometheusAdapter",
    "StackContext",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
