"""kube-state-metrics: metrics about the state of Kubernetes objects."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import Component, StackContext, cluster_role_binding, hardened_container, http_probe
from promstack.components.objects import KubeObject
from promstack.config import names, versions
from promstack.config.cluster import KubeStateMetricsConfig
from promstack.config.versions import Image

METRICS_PORT = 8080
TELEMETRY_PORT = 8081
_LIST_WATCH = ["list", "watch"]
#: Why the pod mounts its service-account token.
TOKEN_REASON = "kube-state-metrics lists and watches the API objects it reports on, with this token"
# Named so Prometheus' relabelling keeps only the metrics port of the Service.
METRICS_PORT_NAME = "http-metrics"

#: The resources the pinned kube-state-metrics (v2.20) enables by default (its
#: pkg/options/resource.go DefaultResources), by API group. The one list both the ClusterRole
#: (list/watch on each) and ``--resources`` are made from (less :data:`OPT_IN_RESOURCES` unless
#: enabled), so kube-state-metrics never watches a resource it may not read. Review it on every
#: image bump: new defaults are not picked up unless they are added here.
ENABLED_RESOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "": ("configmaps", "limitranges", "namespaces", "nodes", "persistentvolumeclaims", "persistentvolumes", "pods",
         "replicationcontrollers", "resourcequotas", "secrets", "services"),
    "admissionregistration.k8s.io": ("mutatingadmissionpolicies", "mutatingadmissionpolicybindings",
                                     "mutatingwebhookconfigurations", "validatingadmissionpolicies",
                                     "validatingadmissionpolicybindings", "validatingwebhookconfigurations"),
    "apps": ("daemonsets", "deployments", "replicasets", "statefulsets"),
    "autoscaling": ("horizontalpodautoscalers",),
    "batch": ("cronjobs", "jobs"),
    "certificates.k8s.io": ("certificatesigningrequests",),
    "coordination.k8s.io": ("leases",),
    "discovery.k8s.io": ("endpointslices",),
    "networking.k8s.io": ("ingresses", "networkpolicies"),
    "policy": ("poddisruptionbudgets",),
    "storage.k8s.io": ("storageclasses", "volumeattachments"),
})


#: Upstream defaults served only when cluster.yaml asks for them: the setting that enables each.
#: Listing and watching Secrets hands kube-state-metrics every Secret's value in the cluster, for
#: metrics (kube_secret_*) no built-in rule or dashboard uses.
OPT_IN_RESOURCES: Mapping[str, str] = MappingProxyType({"secrets": "kubeStateMetrics.secretMetrics"})


def served_resources(settings: KubeStateMetricsConfig) -> dict[str, tuple[str, ...]]:
    """:data:`ENABLED_RESOURCES` less the opt-in resources ``settings`` leaves off, by API group."""
    opted_in = {"secrets"} if settings.secret_metrics else set()
    return {group: kept for group, resources in ENABLED_RESOURCES.items()
            if (kept := tuple(r for r in resources if r not in OPT_IN_RESOURCES or r in opted_in))}


def resources_flag(served: Mapping[str, tuple[str, ...]] = ENABLED_RESOURCES) -> str:
    """``--resources``: every resource of ``served`` (default :data:`ENABLED_RESOURCES`), sorted."""
    return "--resources=" + ",".join(sorted(r for resources in served.values() for r in resources))


class KubeStateMetrics(Component):
    """kube-state-metrics on 8080 (metrics) and 8081 (its own telemetry), one replica, watching
    :func:`served_resources` (upstream's defaults; Secrets only with ``secretMetrics``) with
    list/watch on exactly those.

    ``service`` (headless, port ``metrics_port_name``) is what Prometheus discovers; probes are
    /livez and /readyz. ``deployment`` and ``cluster_role`` are the objects (KubeObject).
    """

    metrics_port_name = METRICS_PORT_NAME

    def __init__(self, scope: Construct, id_: str = names.KUBE_STATE_METRICS, *,
                 settings: KubeStateMetricsConfig = KubeStateMetricsConfig(), context: StackContext = StackContext(),
                 image: Image = versions.KUBE_STATE_METRICS) -> None:
        super().__init__(scope, id_, context=context, component="exporter", image=image)
        self.service_account(automount=True)
        #: What it lists and watches, by API group: the ClusterRole and --resources both come from it.
        self.served_resources = served_resources(settings)
        rules = [k8s.PolicyRule(api_groups=[group], resources=list(resources), verbs=_LIST_WATCH)
                 for group, resources in self.served_resources.items()]
        # Upstream's authn/authz rules let kube-state-metrics protect its own endpoints.
        rules += [
            k8s.PolicyRule(api_groups=["authentication.k8s.io"], resources=["tokenreviews"], verbs=["create"]),
            k8s.PolicyRule(api_groups=["authorization.k8s.io"], resources=["subjectaccessreviews"], verbs=["create"]),
        ]
        self.cluster_role = KubeObject.of(self, "cluster-role", k8s.KubeClusterRoleProps(
            metadata=self.meta(cluster_scoped=True), rules=rules))
        cluster_role_binding(self, "cluster-role-binding", meta=self.meta(cluster_scoped=True),
                             role=self.cluster_scoped_name(), subjects=[(self.stack_namespace, self.app_name)])

        container = hardened_container(
            name="kube-state-metrics",
            image=image,
            resources=settings.resources,
            args=[f"--port={METRICS_PORT}", f"--telemetry-port={TELEMETRY_PORT}",
                  resources_flag(self.served_resources)],
            ports=[
                k8s.ContainerPort(name=METRICS_PORT_NAME, container_port=METRICS_PORT, protocol="TCP"),
                k8s.ContainerPort(name="telemetry", container_port=TELEMETRY_PORT, protocol="TCP"),
            ],
            liveness=http_probe("/livez", METRICS_PORT_NAME, initial_delay=5),
            readiness=http_probe("/readyz", "telemetry", initial_delay=5),
        )
        self.deployment = KubeObject.of(self, "deployment", k8s.KubeDeploymentProps(
            metadata=self.meta(),
            spec=k8s.DeploymentSpec(
                replicas=1,
                selector=self.label_selector(),
                template=self.pod_template(containers=[container], automount_token=True,
                                           exceptions={"serviceAccountToken": TOKEN_REASON},
                                           node_selector={"kubernetes.io/os": "linux"}),
            ),
        ))
        self.service = self.add_service({METRICS_PORT_NAME: METRICS_PORT, "telemetry": TELEMETRY_PORT},
                                           headless=True)
