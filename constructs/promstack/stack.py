"""MonitoringStack: wiring only. Each component gets its settings, the context and the objects it uses."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from promstack.components import example_app
from promstack.components.alertmanager import Alertmanager
from promstack.components.base import StackContext
from promstack.components.example_app import ExampleApp
from promstack.components.grafana import Grafana
from promstack.components.kube_state_metrics import KubeStateMetrics
from promstack.components.namespace import Namespace
from promstack.components.node_exporter import NodeExporter
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.adapter import PrometheusAdapter
from promstack.components.prometheus_adapter.tls import AdapterTls, CertManagerTls, SealedTls, SelfSignedTls
from promstack.config import names
from promstack.config.cluster import ClusterConfig
from promstack.config.inputs import ClusterInputs


def adapter_tls(cluster: ClusterConfig, inputs: ClusterInputs) -> AdapterTls:
    """The adapter's TLS mode from ``adapter.tls.mode``, with the sealed inputs it needs."""
    mode = cluster.spec.adapter.tls.mode
    if mode == "cert-manager":
        return CertManagerTls()
    if mode == "self-signed":
        return SelfSignedTls()
    if inputs.adapter_serving_cert is None:
        raise ValueError(f"cluster {cluster.name}: adapter.tls.mode sealed needs the sealed serving certificate "
                         "(promstack.config.inputs.load_inputs reads it)")
    return SealedTls(inputs.adapter_serving_cert)


class MonitoringStack:
    """Every component of one cluster, each in its own chart (one dist/ file) directly under
    ``scope``; the adapter's APIServices in a chart under ``apiservice_scope`` (default ``scope``).
    ``inputs`` are the cluster folder's sealed inputs, read by the caller."""

    def __init__(self, scope: Construct, *, cluster: ClusterConfig, inputs: ClusterInputs,
                 apiservice_scope: Construct | None = None) -> None:
        spec = cluster.spec
        context = StackContext(namespace=cluster.namespace, instance=cluster.name)
        self.charts: list[Chart] = []

        def chart(id_: str, parent: Construct = scope) -> Chart:
            new = Chart(parent, id_, disable_resource_name_hashes=True)
            self.charts.append(new)
            return new

        self.namespace = Namespace(chart("namespace"), context=context)
        self.node_exporter = NodeExporter(chart(names.NODE_EXPORTER), settings=spec.node_exporter, context=context)
        self.kube_state_metrics = KubeStateMetrics(chart(names.KUBE_STATE_METRICS),
                                                   settings=spec.kube_state_metrics, context=context)
        self.alertmanager = Alertmanager(chart(names.ALERTMANAGER), settings=spec.alertmanager, context=context,
                                         receivers_secret=inputs.alertmanager_receivers,
                                         exposure_tls=inputs.exposure_tls.get(names.ALERTMANAGER),
                                         web_auth=inputs.web_auth.get(names.ALERTMANAGER))
        self.prometheus = Prometheus(chart(names.PROMETHEUS), settings=spec.prometheus, context=context,
                                     alerts=spec.alerts, node_exporter=self.node_exporter,
                                     kube_state_metrics=self.kube_state_metrics, alertmanager=self.alertmanager,
                                     scrape_secret=inputs.prometheus_scrape_secrets,
                                     extra_rule_files=inputs.team_rule_files,
                                     exposure_tls=inputs.exposure_tls.get(names.PROMETHEUS),
                                     web_auth=inputs.web_auth.get(names.PROMETHEUS))
        self.example_app = (ExampleApp(chart(example_app.NAME), settings=spec.example_app, context=context)
                            if spec.example_app.enabled else None)
        self.adapter = PrometheusAdapter(
            chart(names.PROMETHEUS_ADAPTER), prometheus=self.prometheus, settings=spec.adapter, context=context,
            tls=adapter_tls(cluster, inputs),
            apiservice_scope=chart(names.PROMETHEUS_ADAPTER, apiservice_scope or Construct(scope, "apiservice")),
            extra_rules=[example_app.RULE] if self.example_app else [],
        )
        self.grafana = Grafana(chart(names.GRAFANA), prometheus=self.prometheus, settings=spec.grafana,
                               context=context, admin_secret=inputs.grafana_admin or names.GRAFANA_ADMIN_SECRET,
                               alertmanager=self.alertmanager,
                               extra_dashboards=inputs.team_dashboards,
                               exposure_tls=inputs.exposure_tls.get(names.GRAFANA))
