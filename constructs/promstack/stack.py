"""MonitoringStack: wiring only. Each component gets its settings, the context and the objects it uses."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from promstack.components import autoscaling, example_app
from promstack.components.alertmanager import Alertmanager
from promstack.components.autoscaling import Autoscaling, query_rules
from promstack.components.base import Component, StackContext
from promstack.components.example_app import ExampleApp
from promstack.components.grafana import Grafana
from promstack.components.hub import FleetHub
from promstack.components.kube_state_metrics import KubeStateMetrics
from promstack.components.namespace import Namespace
from promstack.components.network import NAMESPACE_NAME_LABEL, Peer
from promstack.components.node_exporter import NodeExporter
from promstack.components.objects import KubeObject, ObjectChart
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.adapter import PrometheusAdapter
from promstack.components.prometheus_adapter.rules import AdapterRule
from promstack.components.prometheus_adapter.tls import AdapterTls, CertManagerTls, SealedTls, SelfSignedTls
from promstack.config import names, versions
from promstack.config.cluster import ClusterConfig
from promstack.config.hub import HubConfig
from promstack.config.images import ImageOverride
from promstack.config.inputs import ClusterInputs
from promstack.config.network import ANYWHERE, NetworkPolicyConfig, PeerConfig
from promstack.config.versions import Image


def adapter_rules(cluster: ClusterConfig) -> tuple[AdapterRule, ...]:
    """The adapter's rules in its order: the cluster's (``adapter.all_rules``), the example app's,
    then one per target ``query`` metric. podMetrics resolve against them under either provider."""
    spec = cluster.spec
    targets = [*([example_app.scaling_target(spec.example_app)] if spec.example_app.enabled else []),
               *spec.autoscaling.targets]
    return (*spec.adapter.all_rules, *([example_app.RULE] if spec.example_app.enabled else []),
            *query_rules(targets))


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
    ``inputs`` are the cluster folder's sealed inputs, read by the caller. ``registry_mirror`` is
    the fleet's (fleet.yaml ``registryMirror``); the cluster's ``images.registryMirror`` wins."""

    def __init__(self, scope: Construct, *, cluster: ClusterConfig, inputs: ClusterInputs,
                 apiservice_scope: Construct | None = None, registry_mirror: str | None = None,
                 hub: HubConfig | None = None) -> None:
        spec = cluster.spec
        images = spec.images

        def image(override: ImageOverride, default: Image) -> Image:
            return images.image(override, default, fleet_mirror=registry_mirror)
        context = StackContext(namespace=cluster.namespace, instance=cluster.name)
        self.charts: list[ObjectChart] = []
        #: The charts under ``apiservice_scope`` (rendered into apiservice/); the others are under ``scope``.
        self.apiservice_charts: list[ObjectChart] = []

        def chart(id_: str, parent: Construct = scope) -> ObjectChart:
            new = ObjectChart(parent, id_)
            self.charts.append(new)
            if parent is not scope:
                self.apiservice_charts.append(new)
            return new

        self.namespace = Namespace(chart("namespace"), context=context)
        self.node_exporter = NodeExporter(chart(names.NODE_EXPORTER), settings=spec.node_exporter, context=context,
                                          image=image(images.node_exporter, versions.NODE_EXPORTER))
        self.kube_state_metrics = KubeStateMetrics(chart(names.KUBE_STATE_METRICS),
                                                   settings=spec.kube_state_metrics, context=context,
                                                   image=image(images.kube_state_metrics, versions.KUBE_STATE_METRICS))
        self.alertmanager = Alertmanager(chart(names.ALERTMANAGER), settings=spec.alertmanager, context=context,
                                         receivers_secret=inputs.alertmanager_receivers,
                                         image=image(images.alertmanager, versions.ALERTMANAGER),
                                         reloader_image=image(images.config_reloader, versions.CONFIG_RELOADER),
                                         exposure_tls=inputs.exposure_tls.get(names.ALERTMANAGER),
                                         web_auth=inputs.web_auth.get(names.ALERTMANAGER))
        self.prometheus = Prometheus(chart(names.PROMETHEUS), settings=spec.prometheus, context=context,
                                     alerts=spec.alerts, node_exporter=self.node_exporter,
                                     kube_state_metrics=self.kube_state_metrics, alertmanager=self.alertmanager,
                                     scrape_secret=inputs.prometheus_scrape_secrets,
                                     remote_write_secret=inputs.prometheus_remote_write,
                                     remote_write_cas=inputs.remote_write_cas,
                                     extra_rule_files=inputs.team_rule_files,
                                     image=image(images.prometheus, versions.PROMETHEUS),
                                     exposure_tls=inputs.exposure_tls.get(names.PROMETHEUS),
                                     web_auth=inputs.web_auth.get(names.PROMETHEUS))
        cluster_label = spec.prometheus.cluster_label
        # The hub's sealed credentials render beside Grafana, which uses the hub whenever there is one.
        grafana_chart = chart(names.GRAFANA)
        self.hub = (FleetHub(grafana_chart, settings=hub, context=context, secret=inputs.fleet_hub,
                             cluster_label=(cluster_label.name, cluster_label.value or cluster.name))
                    if hub else None)
        # An agent keeps nothing to query: Grafana and the adapter read this cluster's series from the hub.
        agent = spec.prometheus.mode == "agent"
        self.example_app = (ExampleApp(chart(example_app.NAME), settings=spec.example_app, context=context,
                                       prometheus=self.prometheus, image=image(images.example_app, versions.PODINFO))
                            if spec.example_app.enabled else None)
        self.adapter_rules = adapter_rules(cluster)
        # keda: KEDA (a prerequisite) scales the targets; no adapter, no custom.metrics APIService,
        # unless keepAdapter holds them for the first step of a move (README).
        self.adapter = PrometheusAdapter(
            chart(names.PROMETHEUS_ADAPTER), prometheus=self.prometheus, settings=spec.adapter, context=context,
            tls=adapter_tls(cluster, inputs),
            apiservice_scope=chart(names.PROMETHEUS_ADAPTER, apiservice_scope or Construct(scope, "apiservice")),
            extra_rules=self.adapter_rules[len(spec.adapter.all_rules):],
            image=image(images.prometheus_adapter, versions.PROMETHEUS_ADAPTER),
            hub=self.hub if agent else None,
        ) if spec.autoscaling.renders_adapter else None
        targets = [self.example_app.scaling_target] if self.example_app else []
        # autoscaling.yaml only when something scales: an empty file would be noise in every review.
        self.autoscaling = Autoscaling(
            chart(autoscaling.NAME), settings=spec.autoscaling, context=context, prometheus=self.prometheus,
            rules=self.adapter_rules, extra_targets=targets,
        ) if targets or spec.autoscaling.targets else None
        self.grafana = Grafana(grafana_chart, prometheus=self.prometheus, settings=spec.grafana,
                               context=context, admin_secret=inputs.grafana_admin or names.GRAFANA_ADMIN_SECRET,
                               alertmanager=self.alertmanager, extra_dashboards=inputs.team_dashboards,
                               exposure_tls=inputs.exposure_tls.get(names.GRAFANA), hub=self.hub, hub_only=agent,
                               image=image(images.grafana, versions.GRAFANA))
        if spec.network_policy.enabled:
            self._network_policies(spec.network_policy)

    @property
    def components(self) -> list[Component]:
        """Every component that runs pods."""
        return [c for c in (self.node_exporter, self.kube_state_metrics, self.alertmanager, self.prometheus,
                            self.example_app, self.adapter, self.grafana) if c is not None]

    def _network_policies(self, config: NetworkPolicyConfig) -> None:
        """Default deny in every namespace with pods; each connection the wiring recorded allowed at
        its destination (and source, with egress); the API server to the adapter; the UIs' peers."""
        egress = config.egress.enabled
        self.namespace.deny_by_default(egress=egress)
        if self.example_app:
            self.example_app.deny_by_default(egress=egress)
        nodes = [Peer.block(cidr, description="node addresses") for cidr in config.node_cidrs]
        for component in self.components:
            for connection in component.connections:
                target, port_name = connection.target, connection.port_name
                target.allow_from(component, port_name)
                if egress:
                    number, protocol = target.container_port(port_name)
                    for peer in nodes if target.host_network else [target]:
                        component.allow_to(peer, number, protocol)
        api_server = [Peer.block(cidr, description="the API server") for cidr in
                      config.api_server_cidrs or ANYWHERE]
        if self.adapter:
            for peer in api_server:
                self.adapter.allow_from(peer, self.adapter.serving_port_name)
        if self.autoscaling and self.autoscaling.scaled_objects:
            # KEDA's operator (a prerequisite, in its own namespace) runs the ScaledObjects' queries.
            for peer_config in config.keda_peers:
                self.prometheus.allow_from(peer_from_config(peer_config), self.prometheus.web_port_name)
        for ui, port_name, peers in ((self.prometheus, self.prometheus.web_port_name, config.ui_peers.prometheus),
                                     (self.grafana, self.grafana.http_port_name, config.ui_peers.grafana),
                                     (self.alertmanager, self.alertmanager.web_port_name,
                                      config.ui_peers.alertmanager)):
            for peer in ui_peers(ui.service, peers):
                ui.allow_from(peer, port_name)
        if egress:
            self._egress(config, api_server, nodes)

    def _egress(self, config: NetworkPolicyConfig, api_server: list[Peer], nodes: list[Peer]) -> None:
        """What the pods reach beyond each other: the API server, the nodes, the annotated pods."""
        for component in (self.prometheus, self.kube_state_metrics, self.adapter):
            if component is None:
                continue
            for peer in api_server:
                for number in API_SERVER_PORTS:
                    component.allow_to(peer, number)
        for peer in nodes:
            for number in self.prometheus.node_ports:
                self.prometheus.allow_to(peer, number)
        for peer, any_port in self.prometheus.pod_targets_outside:
            self.prometheus.allow_to(peer, any_port)
        for peer_config in config.egress.prometheus_targets:
            self.prometheus.allow_to(peer_from_config(peer_config), None)
        for peer_config in config.egress.alertmanager_receivers:
            self.alertmanager.allow_to(peer_from_config(peer_config), None)


#: Where clients reach the API server: the ``kubernetes`` Service's port and the API server's own.
API_SERVER_PORTS = (443, 6443)


def peer_from_config(config: PeerConfig) -> Peer:
    """A cluster.yaml peer as a ``Peer``."""
    if config.cidr is not None:
        return Peer.block(config.cidr, config.except_)
    namespace_labels = ({NAMESPACE_NAME_LABEL: config.namespace} if config.namespace is not None
                        else config.namespace_labels)
    description = (f"namespace {config.namespace}" if config.namespace else
                   "namespaces " + ",".join(f"{k}={v}" for k, v in (config.namespace_labels or {}).items())
                   if config.namespace_labels else "pods")
    return Peer(description, namespace_labels=namespace_labels, pod_labels=config.pod_labels)


def ui_peers(service: KubeObject, configured: Sequence[PeerConfig] | None) -> list[Peer]:
    """The configured peers of a UI; unset: anywhere for a NodePort Service (read from the rendered
    Service: clients outside the cluster arrive from node or client addresses), none otherwise."""
    if configured is not None:
        return [peer_from_config(p) for p in configured]
    if service.body.get("spec", {}).get("type") in ("NodePort", "LoadBalancer"):
        return [Peer.block(cidr, description="anywhere (NodePort)") for cidr in ANYWHERE]
    return []
