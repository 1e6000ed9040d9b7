"""What every component shares: explicit names, the standard labels, hardened pods.

Objects are built from cdk8s' typed L1 structs (``cdk8s_plus_27.k8s``) and rendered by
``promstack.components.objects``: every field that reaches the cluster is written here on purpose,
so none of cdk8s-plus' defaults (1000m/512Mi requests, imagePullPolicy Always, 2 replicas,
cdk8s.io/metadata.addr selectors, generated binding names) can slip in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypedDict, Unpack

from cdk8s import ApiObjectMetadata
from cdk8s_plus_27 import k8s
from constructs import Construct
from sealedsecrets.com.bitnami import SealedSecretProps, SealedSecretSpec, SealedSecretSpecTemplate

from promstack.components import labels as std_labels
from promstack.components.network import NetworkPolicyBuilder, Peer, default_deny, pods_peer
from promstack.components.objects import KubeObject, ObjectScope
from promstack.config import hardening
from promstack.config.cluster import Resources
from promstack.config.versions import Image

#: Pod template annotation prefix declaring a deliberate hardening exception and its reason;
#: the validation gate accepts hostNetwork/hostPID/hostIPC/hostPath only when declared. The topics
#: and the checkov checks each answers are declared in promstack.config.hardening.
HARDENING_EXCEPTION = hardening.PREFIX
NOBODY = 65534
#: The lowest uid a pod runs as without a declared reason: lower ones may belong to host users.
HIGH_UID = 10000


class PodSpecExtras(TypedDict, total=False):
    """PodSpec fields a component may add to what ``pod_template`` writes for every pod."""

    affinity: k8s.Affinity | None
    dns_policy: str
    host_network: bool
    host_pid: bool
    node_selector: Mapping[str, str]
    priority_class_name: str
    termination_grace_period_seconds: int
    tolerations: Sequence[k8s.Toleration]


def checksum(*texts: str) -> str:
    """SHA-256 of configuration text, for pod template annotations that roll pods on change."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


# IntOrString and Quantity are immutable values made by a call into the jsii runtime each: one per
# distinct value is enough (a stack asks for about 120, of some 20 distinct values).
@cache
def port(value: int | str) -> k8s.IntOrString:
    return k8s.IntOrString.from_string(value) if isinstance(value, str) else k8s.IntOrString.from_number(value)


@cache
def quantity(value: str) -> k8s.Quantity:
    return k8s.Quantity.from_string(value)


def resource_requirements(resources: Resources) -> k8s.ResourceRequirements:
    def amounts(cpu: str, memory: str) -> Mapping[str, k8s.Quantity]:
        return {"cpu": quantity(cpu), "memory": quantity(memory)}

    return k8s.ResourceRequirements(
        requests=amounts(resources.requests.cpu, resources.requests.memory),
        limits=amounts(resources.limits.cpu, resources.limits.memory),
    )


def http_probe(path: str, port_name: str, *, scheme: str = "HTTP", initial_delay: int = 10,
               period: int = 10, timeout: int = 5, failures: int = 3) -> k8s.Probe:
    return k8s.Probe(
        http_get=k8s.HttpGetAction(path=path, port=port(port_name), scheme=scheme),
        initial_delay_seconds=initial_delay,
        period_seconds=period,
        timeout_seconds=timeout,
        failure_threshold=failures,
    )


def hardened_container(
    *,
    name: str,
    image: Image,
    resources: Resources,
    args: Sequence[str] = (),
    ports: Sequence[k8s.ContainerPort] = (),
    volume_mounts: Sequence[k8s.VolumeMount] = (),
    env: Sequence[k8s.EnvVar] = (),
    readiness: k8s.Probe | None = None,
    liveness: k8s.Probe | None = None,
    run_as_user: int = NOBODY,
) -> k8s.Container:
    """A container that runs as a non-root user on a read-only root filesystem with no capabilities."""
    return k8s.Container(
        name=name,
        image=image.ref,
        image_pull_policy="IfNotPresent",
        args=list(args) or None,
        ports=list(ports) or None,
        env=list(env) or None,
        volume_mounts=list(volume_mounts) or None,
        resources=resource_requirements(resources),
        readiness_probe=readiness,
        liveness_probe=liveness,
        security_context=k8s.SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.Capabilities(drop=["ALL"]),
            privileged=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            run_as_user=run_as_user,
            run_as_group=run_as_user,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        ),
    )


_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class StackContext:
    """Where a component lives: the namespace of its namespaced objects (default ``monitoring``) and
    its ``app.kubernetes.io/instance`` label (default ``promstack``; promstack's own stacks use the
    cluster name)."""

    namespace: str = "monitoring"
    instance: str = "promstack"


class Component(ObjectScope):
    """One component: a construct that can live in any chart.

    ``id_`` is the component's Kubernetes name (kebab-case, default the component's own name) and
    its ``app.kubernetes.io/name``, so two instances with different ids fit in one chart.
    """

    def __init__(self, scope: Construct, id_: str, *, context: StackContext, component: str,
                 image: Image | None, namespace: str | None = None) -> None:
        super().__init__(scope, id_)
        if len(id_) > 63 or not _DNS1123_LABEL.fullmatch(id_):
            raise ValueError(f"{type(self).__name__} id {id_!r}: it is the Kubernetes name of the component's "
                             "objects; use at most 63 lowercase letters, digits and '-'")
        self.context = context
        #: Where namespaced objects go: the stack's namespace unless the component has its own.
        self.stack_namespace = namespace or context.namespace
        self.app_name = id_
        self.component = component
        self.image = image
        #: The connections this component's pods open to other components' pods (``connect``).
        self.connections: list[Connection] = []
        self._network_policy: NetworkPolicyBuilder | None = None

    @property
    def selector(self) -> dict[str, str]:
        return std_labels.selector_labels(self.app_name, self.context.instance)

    @property
    def labels(self) -> dict[str, str]:
        return std_labels.standard_labels(
            self.app_name, self.context.instance, component=self.component,
            version=self.image.version if self.image else None,
        )

    @property
    def immutable_labels(self) -> dict[str, str]:
        """The standard labels without ``app.kubernetes.io/version``, for fields Kubernetes never
        lets change (StatefulSet volumeClaimTemplates): an image bump must not touch them."""
        return std_labels.standard_labels(self.app_name, self.context.instance, component=self.component)

    def name(self, suffix: str = "") -> str:
        """The name of one of this component's namespaced objects: ``<id>`` or ``<id>-<suffix>``."""
        return f"{self.app_name}-{suffix}" if suffix else self.app_name

    def meta(self, name: str | None = None, *, namespace: str | None = "", cluster_scoped: bool = False,
             annotations: Mapping[str, str] | None = None) -> k8s.ObjectMeta:
        """Metadata with an explicit name and the standard labels.

        The default name is the component's; cluster-scoped objects default to
        ``<namespace>-<component>`` so two stacks in different namespaces never collide.
        Namespaced objects land in the stack's namespace unless ``namespace`` names another.
        """
        return k8s.ObjectMeta(
            name=name or (self.cluster_scoped_name() if cluster_scoped else self.app_name),
            namespace=None if cluster_scoped else (namespace or self.stack_namespace),
            labels=self.labels,
            annotations=dict(sorted(annotations.items())) if annotations else None,
        )

    def cluster_scoped_name(self, suffix: str = "") -> str:
        return f"{self.stack_namespace}-{self.app_name}{suffix}"

    def service_account(self, *, automount: bool) -> KubeObject:
        """The component's ServiceAccount; ``automount`` only for components that call the API."""
        return KubeObject.of(self, "service-account", k8s.KubeServiceAccountProps(
            metadata=self.meta(), automount_service_account_token=automount))

    def pod_template(
        self,
        *,
        containers: Sequence[k8s.Container],
        volumes: Sequence[k8s.Volume] = (),
        annotations: Mapping[str, str] | None = None,
        automount_token: bool = False,
        fs_group: int | None = None,
        run_as_user: int = NOBODY,
        exceptions: Mapping[str, str] | None = None,
        **spec: Unpack[PodSpecExtras],
    ) -> k8s.PodTemplateSpec:
        """A pod running as ``run_as_user`` under the RuntimeDefault seccomp profile.

        ``exceptions`` (topic -> reason, topics of promstack.config.hardening) are the pod's
        deliberate exceptions to the baseline, rendered as ``hardening.promstack.io/<topic>``;
        the image pull policy and images without a digest are declared here for every pod, and
        ``automount_token`` needs a ``serviceAccountToken`` reason, a ``run_as_user`` below
        ``HIGH_UID`` a ``runAsUser`` one. Extra keyword arguments go to
        the PodSpec (host_network, tolerations ...).
        """
        declared = dict(exceptions or {})
        if automount_token and "serviceAccountToken" not in declared:
            raise ValueError(f"{type(self).__name__}: automount_token needs exceptions['serviceAccountToken'], "
                             "the reason the pod calls the Kubernetes API")
        if run_as_user < HIGH_UID and "runAsUser" not in declared:
            raise ValueError(f"{type(self).__name__}: run_as_user {run_as_user} is below {HIGH_UID} (a uid host "
                             "users may have); use one above it or give exceptions['runAsUser'], the reason")
        declared["imagePullPolicy"] = hardening.PULL_POLICY_REASON
        undigested = [c.name for c in containers if "@" not in (c.image or "")]
        if undigested:
            declared["imageDigest"] = hardening.digest_reason(undigested)
        annotations = {**(annotations or {}), **hardening.exception_annotations(declared)}
        return k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(
                labels=self.labels,
                annotations=dict(sorted(annotations.items())),
            ),
            spec=k8s.PodSpec(
                service_account_name=self.app_name,
                automount_service_account_token=automount_token,
                containers=list(containers),
                volumes=list(volumes) or None,
                security_context=k8s.PodSecurityContext(
                    run_as_non_root=True,
                    run_as_user=run_as_user,
                    run_as_group=run_as_user,
                    fs_group=fs_group,
                    seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
                ),
                **spec,
            ),
        )

    def add_service(self, ports: Mapping[str, int], *, id_: str = "service", name: str | None = None,
                headless: bool = False, node_ports: Mapping[str, int] | None = None) -> KubeObject:
        """A Service selecting this component's pods; each port ``name: number`` targets the
        container port of the same name. ``node_ports`` (by port name) make it a NodePort Service."""
        return KubeObject.of(self, id_, k8s.KubeServiceProps(
            metadata=self.meta(name),
            spec=k8s.ServiceSpec(
                type="NodePort" if node_ports else None,
                cluster_ip="None" if headless else None,
                selector=self.selector,
                ports=[k8s.ServicePort(name=port_name, port=number, target_port=port(port_name),
                                       node_port=(node_ports or {}).get(port_name), protocol="TCP")
                       for port_name, number in ports.items()],
            ),
        ))

    def label_selector(self) -> k8s.LabelSelector:
        return k8s.LabelSelector(match_labels=self.selector)

    def spread_over_nodes(self) -> k8s.Affinity:
        """Replicas on different nodes where the scheduler can (preferred, not required): one
        node's loss takes one replica."""
        return k8s.Affinity(pod_anti_affinity=k8s.PodAntiAffinity(
            preferred_during_scheduling_ignored_during_execution=[k8s.WeightedPodAffinityTerm(
                weight=100,
                pod_affinity_term=k8s.PodAffinityTerm(topology_key="kubernetes.io/hostname",
                                                      label_selector=self.label_selector()))]))

    # -- network ----------------------------------------------------------------------------------

    def connect(self, target: Component, port_name: str) -> None:
        """Record that this component's pods open connections to the container port ``port_name``
        of ``target``'s pods (a scrape, a datasource, a URL): the one statement NetworkPolicies
        are made from (``allow_from`` on the target, ``allow_to`` here). Recorded once."""
        connection = Connection(self, target, port_name)
        if connection not in self.connections:
            self.connections.append(connection)

    def rendered_pod_template(self) -> dict[str, Any]:
        """The pod template of this component's workload as it renders ({} without one)."""
        for obj in self.kube_objects:
            if obj.kind in ("Deployment", "StatefulSet", "DaemonSet"):
                template: dict[str, Any] = obj.body["spec"]["template"]
                return template
        return {}

    def _pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.rendered_pod_template().get("spec", {})
        return spec

    @property
    def host_network(self) -> bool:
        """Whether the pods join the node's network: NetworkPolicies do not apply to them."""
        return bool(self._pod_spec().get("hostNetwork"))

    def container_port(self, port_name: str) -> tuple[int, str]:
        """(number, protocol) of the container port ``port_name`` of this component's pods."""
        for container in self._pod_spec().get("containers", []):
            for item in container.get("ports", []):
                if item.get("name") == port_name:
                    return int(item["containerPort"]), str(item.get("protocol", "TCP"))
        raise ValueError(f"{type(self).__name__} {self.app_name!r} has no container port named {port_name!r}")

    def _peer(self, peer: Component | Peer, own_namespace: str) -> dict[str, Any]:
        if isinstance(peer, Component):
            return pods_peer(peer.stack_namespace, peer.selector, own_namespace)
        return peer.render(own_namespace)

    @property
    def network_policy(self) -> NetworkPolicyBuilder:
        """The NetworkPolicy of this component's pods (rendered once it holds a rule; ``api_object``)."""
        if self._network_policy is None:
            self._network_policy = NetworkPolicyBuilder(self, name=self.name(), namespace=self.stack_namespace,
                                                        labels=self.labels, selector=self.selector)
        return self._network_policy

    def allow_from(self, peer: Component | Peer, port_name: str) -> None:
        """Admit ``peer`` (a component's pods, or a ``Peer``) to the container port ``port_name``.
        Nothing for host-network pods, which no NetworkPolicy governs."""
        _, protocol = self.container_port(port_name)
        if self.host_network:
            return
        self.network_policy.ingress(self._peer(peer, self.stack_namespace), {"port": port_name, "protocol": protocol})

    def allow_to(self, peer: Component | Peer, port: int | None, protocol: str = "TCP") -> None:
        """Let this component's pods connect to ``peer`` on ``port`` (None: every port), which makes
        its NetworkPolicy an egress policy too (everything else is then refused)."""
        self.network_policy.egress(self._peer(peer, self.stack_namespace),
                                   None if port is None else {"port": port, "protocol": protocol})

    def deny_by_default(self, *, egress: bool = False) -> list[KubeObject]:
        """``default-deny`` in this component's namespace: every pod there admits only what some
        policy allows (and, with ``egress``, opens only what some policy allows, DNS always)."""
        return default_deny(self, namespace=self.stack_namespace, labels=self.labels, egress=egress)


@dataclass(frozen=True)
class Connection:
    """``source``'s pods connect to the container port ``port_name`` of ``target``'s pods."""

    source: Component
    target: Component
    port_name: str

    def describe(self) -> str:
        return f"{self.source.app_name} -> {self.target.app_name} port {self.port_name}"


def empty_dir(name: str, size_limit: str = "64Mi") -> k8s.Volume:
    """A scratch volume: the root filesystem is read-only, so writable paths are emptyDirs."""
    return k8s.Volume(name=name, empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity(size_limit)))


def config_map_volume(name: str, config_map: str) -> k8s.Volume:
    return k8s.Volume(name=name, config_map=k8s.ConfigMapVolumeSource(name=config_map))


def mount(name: str, path: str, *, read_only: bool = True) -> k8s.VolumeMount:
    return k8s.VolumeMount(name=name, mount_path=path, read_only=read_only)


def cluster_role_binding(scope: Construct, id_: str, *, meta: k8s.ObjectMeta, role: str,
                         subjects: Sequence[tuple[str, str]]) -> KubeObject:
    """A ClusterRoleBinding of ServiceAccounts given as (namespace, name)."""
    return KubeObject.of(scope, id_, k8s.KubeClusterRoleBindingProps(
        metadata=meta,
        role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
        subjects=[k8s.Subject(kind="ServiceAccount", name=n, namespace=ns) for ns, n in subjects],
    ))


def add_sealed_secret(component: Component, id_: str, manifest: dict[str, Any]) -> KubeObject:
    """Render the SealedSecret unchanged but for labels: the name, namespace and scope annotations
    are part of what the controller decrypts against, so they are copied as they are."""
    meta, spec = manifest["metadata"], manifest["spec"]
    annotations = meta.get("annotations") or None
    template_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta["namespace"], "labels": component.labels}
    if annotations:
        template_meta["annotations"] = annotations
    return KubeObject.of(component, id_, SealedSecretProps(
        metadata=ApiObjectMetadata(name=meta["name"], namespace=meta["namespace"], labels=component.labels,
                                   annotations=annotations),
        spec=SealedSecretSpec(
            encrypted_data=dict(sorted(spec["encryptedData"].items())),
            template=SealedSecretSpecTemplate(type=spec.get("template", {}).get("type", "Opaque"),
                                              metadata=template_meta),
        ),
    ))


#: Bytes of data a ConfigMap may hold: the API server refuses more (1 MiB, its MaxSecretSize for both).
MAX_CONFIG_MAP_BYTES = 1024 * 1024


def config_map_bytes(data: Mapping[str, str]) -> int:
    """The bytes of a ConfigMap's ``data`` values, as the API server counts them against the limit."""
    return sum(len(text.encode("utf-8")) for text in data.values())


def check_config_map_size(owner: str, name: str, data: Mapping[str, str]) -> None:
    """ValueError when ``data`` would not fit in one ConfigMap (the API server would refuse it at sync)."""
    size = config_map_bytes(data)
    if size > MAX_CONFIG_MAP_BYTES:
        raise ValueError(f"{owner}: ConfigMap {name!r} would hold {size} bytes, over the {MAX_CONFIG_MAP_BYTES} "
                         "(1 MiB) the API server accepts; pass less content")
