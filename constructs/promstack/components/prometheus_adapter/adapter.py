"""prometheus-adapter: serves custom.metrics.k8s.io from Prometheus so HPAs can scale on any metric."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import (
    Component,
    StackContext,
    checksum,
    cluster_role_binding,
    config_map_volume,
    empty_dir,
    hardened_container,
    http_probe,
    mount,
    port,
)
from promstack.components.hub import FleetHub
from promstack.components.objects import KubeObject
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.rules import AdapterRule
from promstack.components.prometheus_adapter.tls import AdapterTls, SelfSignedTls, ServingTls
from promstack.config import hardening, names, versions, yamlio
from promstack.config.cluster import PrometheusAdapterConfig
from promstack.config.versions import Image
from promstack.content.rules import JOBS

PORT = 6443
CONFIG_DIR = "/etc/adapter"
#: The kubeconfig-format file with the basic auth of a Prometheus behind basic auth (--prometheus-auth-config).
PROMETHEUS_AUTH_DIR = "/etc/adapter/prometheus-auth"
GROUP = names.CUSTOM_METRICS_GROUP
#: (version, versionPriority): v1beta2 is preferred, v1beta1 kept for older clients.
API_VERSIONS = names.CUSTOM_METRICS_VERSIONS
HPA_CONTROLLER = ("kube-system", "horizontal-pod-autoscaler")
#: Why the pod mounts its service-account token.
TOKEN_REASON = ("the adapter queries the API server for the pods, nodes and namespaces it maps series onto and "
                "delegates authentication and authorization of its callers to it")
#: Why the HPA controller's role (and its binding) holds resources "*".
WILDCARD_REASON = ("custom.metrics.k8s.io names its resources after metrics, an open-ended set, so reading them "
                   "needs resources '*'; the group serves metrics only (no Secrets) and the verbs are get/list/watch")


class PrometheusAdapter(Component):
    """The adapter Deployment on 6443 behind a Service on 443, registered through APIServices.

    The APIServices go into ``apiservice_scope`` (default: beside the adapter; promstack puts them
    in their own folder of dist/, so Argo CD and Flux register the aggregated API only after the
    adapter behind it is up).

    It queries ``prometheus.service_url`` and asks ``prometheus`` to scrape it; its rules are
    ``settings.all_rules`` (upstream's defaults and the cluster's ``adapter.rules``) and
    ``extra_rules`` (from components that need a metric served), rendered into a ConfigMap whose
    checksum rolls the pods. ``tls`` is the serving-certificate mode (default: self-signed, which
    the APIService cannot verify). ``deployment``, ``service`` and ``api_services`` are the objects (KubeObject).
    """

    def __init__(self, scope: Construct, id_: str = names.PROMETHEUS_ADAPTER, *, prometheus: Prometheus,
                 settings: PrometheusAdapterConfig = PrometheusAdapterConfig(), context: StackContext = StackContext(),
                 tls: AdapterTls = SelfSignedTls(), apiservice_scope: Construct | None = None,
                 extra_rules: Sequence[AdapterRule] = (), image: Image = versions.PROMETHEUS_ADAPTER,
                 hub: FleetHub | None = None) -> None:
        super().__init__(scope, id_, context=context, component="metrics-adapter", image=image)
        config = settings
        self.rules = (*config.all_rules, *extra_rules)
        # With a hub (Prometheus in agent mode keeps nothing to query), every rule is limited to this
        # cluster's series there.
        self.prometheus_url = hub.url.rstrip("/") + "/" if hub else prometheus.service_url + "/"
        rules = [rule.to_adapter() for rule in self.rules]
        self.config_text = yamlio.dump({"rules": [hub.scope_rule(rule) for rule in rules] if hub else rules})
        serving = tls.apply(self)

        self.service_account(automount=True)
        self._rbac()
        config_map_name = self.name("config")
        self.config_map = KubeObject.of(self, "config", k8s.KubeConfigMapProps(metadata=self.meta(config_map_name),
                          data={"config.yaml": self.config_text}))

        container = hardened_container(
            name="prometheus-adapter",
            image=image,
            resources=config.resources,
            args=[
                f"--secure-port={PORT}",
                f"--prometheus-url={self.prometheus_url}",
                f"--config={CONFIG_DIR}/config.yaml",
                f"--metrics-relist-interval={config.metrics_relist_interval}",
                *(hub.adapter_args() if hub else []),
                *serving.args,
                *([f"--prometheus-auth-config={PROMETHEUS_AUTH_DIR}/{names.ADAPTER_AUTH_KEY}"]
                  if prometheus.web_auth else []),
            ],
            ports=[k8s.ContainerPort(name=self.serving_port_name, container_port=PORT, protocol="TCP")],
            volume_mounts=[mount("config", CONFIG_DIR), mount("tmp", "/tmp", read_only=False), *serving.mounts,
                           *([mount("prometheus-auth", PROMETHEUS_AUTH_DIR)] if prometheus.web_auth else []),
                           *(hub.mounts() if hub else [])],
            readiness=http_probe("/readyz", self.serving_port_name, scheme="HTTPS", initial_delay=10),
            liveness=http_probe("/livez", self.serving_port_name, scheme="HTTPS", initial_delay=30),
        )
        self.deployment = KubeObject.of(self, "deployment", k8s.KubeDeploymentProps(
            metadata=self.meta(),
            spec=k8s.DeploymentSpec(
                replicas=config.replicas,
                selector=self.label_selector(),
                strategy=k8s.DeploymentStrategy(
                    type="RollingUpdate",
                    rolling_update=k8s.RollingUpdateDeployment(max_surge=port(1), max_unavailable=port(0)),
                ),
                template=self.pod_template(
                    containers=[container],
                    volumes=[config_map_volume("config", config_map_name), empty_dir("tmp"), *serving.volumes,
                             *([prometheus.web_auth.volume("prometheus-auth", names.ADAPTER_AUTH_KEY)]
                               if prometheus.web_auth else []),
                             *(hub.volumes() if hub else [])],
                    # The adapter reads its Prometheus credentials at start: a new password rolls it.
                    annotations={"checksum/config": checksum(self.config_text), **serving.pod_annotations,
                                 **(prometheus.web_auth.annotations if prometheus.web_auth else {})},
                    automount_token=True,
                    exceptions={"serviceAccountToken": TOKEN_REASON},
                    # The serving key is mounted 0440; fsGroup lets the non-root adapter read it.
                    fs_group=65534,
                    node_selector={"kubernetes.io/os": "linux"},
                ),
            ),
        ))
        if config.replicas > 1:
            KubeObject.of(self, "pod-disruption-budget", k8s.KubePodDisruptionBudgetProps(
                metadata=self.meta(),
                spec=k8s.PodDisruptionBudgetSpec(min_available=port(1), selector=self.label_selector()),
            ))
        self.service = self.add_service({self.serving_port_name: 443})
        prometheus.scrape(JOBS["adapter"], self, self.service, self.serving_port_name, https=True)
        self.connect(prometheus, prometheus.web_port_name)
        self.api_services = AdapterApiServices(apiservice_scope or self, id_, context=context, tls=serving,
                                               service=self.service, image=image)

    #: The container and Service port the API server (through the APIService) and Prometheus reach.
    serving_port_name = "https"

    def _rbac(self) -> None:
        sa = [(self.stack_namespace, self.app_name)]
        read = ["get", "list", "watch"]
        # Delegate authentication and authorization of API requests to the API server.
        cluster_role_binding(self, "auth-delegator", meta=self.meta(self.cluster_scoped_name(":system:auth-delegator"),
                                                                     cluster_scoped=True),
                             role="system:auth-delegator", subjects=sa)
        KubeObject.of(self, "auth-reader", k8s.KubeRoleBindingProps(
            metadata=self.meta(self.cluster_scoped_name("-auth-reader"), namespace="kube-system"),
            role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                 name="extension-apiserver-authentication-reader"),
            subjects=[k8s.Subject(kind="ServiceAccount", name=self.app_name, namespace=self.stack_namespace)],
        ))
        # What the adapter maps series onto.
        KubeObject.of(self, "resource-reader", k8s.KubeClusterRoleProps(
            metadata=self.meta(self.cluster_scoped_name("-resource-reader"), cluster_scoped=True),
            rules=[k8s.PolicyRule(api_groups=[""], resources=["namespaces", "nodes", "pods", "services"], verbs=read)],
        ))
        cluster_role_binding(self, "resource-reader-binding",
                             meta=self.meta(self.cluster_scoped_name("-resource-reader"), cluster_scoped=True),
                             role=self.cluster_scoped_name("-resource-reader"), subjects=sa)
        # The HPA controller reads custom metrics; metric names are open-ended, hence resources "*".
        wildcard = hardening.exception_annotations({"rbacWildcard": WILDCARD_REASON})
        KubeObject.of(self, "custom-metrics-reader", k8s.KubeClusterRoleProps(
            metadata=self.meta(self.cluster_scoped_name("-custom-metrics-reader"), cluster_scoped=True,
                               annotations=wildcard),
            rules=[k8s.PolicyRule(api_groups=[GROUP], resources=["*"], verbs=read)],
        ))
        cluster_role_binding(self, "hpa-custom-metrics",
                             meta=self.meta(self.cluster_scoped_name("-hpa-custom-metrics"), cluster_scoped=True,
                                            annotations=wildcard),
                             role=self.cluster_scoped_name("-custom-metrics-reader"), subjects=[HPA_CONTROLLER])


class AdapterApiServices(Component):
    """The APIServices that register the adapter as custom.metrics.k8s.io (v1beta2 preferred);
    ``objects`` are the L1 APIServices."""

    def __init__(self, scope: Construct, id_: str, *, context: StackContext, tls: ServingTls,
                 service: KubeObject, image: Image) -> None:
        super().__init__(scope, id_, context=context, component="metrics-adapter", image=image)
        ca_bundle = base64.b64encode(tls.ca_bundle_pem).decode() if tls.ca_bundle_pem else None
        self.objects = [
            KubeObject.of(self, f"api-service-{version}", k8s.KubeApiServiceProps(
                metadata=self.meta(f"{version}.{GROUP}", cluster_scoped=True,
                                   annotations=tls.apiservice_annotations or None),
                spec=k8s.ApiServiceSpec(
                    group=GROUP,
                    version=version,
                    service=k8s.ServiceReference(name=service.name, namespace=self.stack_namespace, port=443),
                    ca_bundle=ca_bundle,
                    insecure_skip_tls_verify=True if tls.insecure else None,
                    group_priority_minimum=100,
                    version_priority=priority,
                ),
            ))
            for version, priority in API_VERSIONS
        ]
