"""node-exporter: a DaemonSet on every node behind a headless Service."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import (
    Component,
    StackContext,
    hardened_container,
    http_probe,
    mount,
    port,
)
from promstack.components.objects import KubeObject
from promstack.config import names, versions
from promstack.config.cluster import NodeExporterConfig
from promstack.config.versions import Image

PORT = 9100

#: Deliberate exceptions to the hardening baseline, with their reasons; rendered on the pod
#: template so reviewers and the validation gate see them, and as checkov skips (hostNetwork also
#: answers checkov's hostPort check: with the host network the container port is the node's).
HARDENING_EXCEPTIONS = {
    "hostNetwork": "node-exporter reports the node's own network interfaces, so it joins the host network",
    "hostPID": "node-exporter reads every host process through /proc, so it shares the host PID namespace",
    "hostPath": "node-exporter reads /proc, /sys and the root filesystem of the host, mounted read-only",
}


class NodeExporter(Component):
    """node-exporter on port 9100 of every node, control planes included.

    Host /proc, /sys and / are mounted read-only at /host/* with the matching --path.* flags.
    ``service`` (headless, port ``metrics_port_name``) is what Prometheus discovers;
    ``daemon_set`` is the L1 DaemonSet.
    """

    metrics_port_name = "metrics"

    def __init__(self, scope: Construct, id_: str = names.NODE_EXPORTER, *,
                 settings: NodeExporterConfig = NodeExporterConfig(), context: StackContext = StackContext(),
                 image: Image = versions.NODE_EXPORTER) -> None:
        super().__init__(scope, id_, context=context, component="exporter", image=image)
        config = settings
        self.port = PORT
        self.service_account(automount=False)

        container = hardened_container(
            name="node-exporter",
            image=image,
            resources=config.resources,
            args=[
                "--path.procfs=/host/proc",
                "--path.sysfs=/host/sys",
                "--path.rootfs=/host/root",
                f"--web.listen-address=:{PORT}",
                # Container and kubelet mounts would double-count every volume.
                "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|"
                "var/lib/docker/.+|var/lib/kubelet/.+)($|/)",
                "--collector.netclass.ignored-devices=^(veth.*|cali.*|[a-f0-9]{15})$",
            ],
            ports=[k8s.ContainerPort(name=self.metrics_port_name, container_port=PORT, host_port=PORT, protocol="TCP")],
            volume_mounts=[
                mount("proc", "/host/proc"),
                mount("sys", "/host/sys"),
                k8s.VolumeMount(name="root", mount_path="/host/root", read_only=True,
                                mount_propagation="HostToContainer"),
            ],
            readiness=http_probe("/", "metrics", initial_delay=5),
            liveness=http_probe("/", "metrics", initial_delay=15),
        )
        host_path = {"proc": "/proc", "sys": "/sys", "root": "/"}
        self.daemon_set = KubeObject.of(self, "daemon-set", k8s.KubeDaemonSetProps(
            metadata=self.meta(),
            spec=k8s.DaemonSetSpec(
                selector=self.label_selector(),
                update_strategy=k8s.DaemonSetUpdateStrategy(
                    type="RollingUpdate",
                    rolling_update=k8s.RollingUpdateDaemonSet(max_unavailable=port("10%")),
                ),
                template=self.pod_template(
                    containers=[container],
                    volumes=[
                        k8s.Volume(name=n, host_path=k8s.HostPathVolumeSource(path=p, type="Directory"))
                        for n, p in host_path.items()
                    ],
                    exceptions=HARDENING_EXCEPTIONS,
                    host_network=True,
                    host_pid=True,
                    dns_policy="ClusterFirstWithHostNet",
                    priority_class_name="system-node-critical",
                    node_selector={"kubernetes.io/os": "linux"},
                    # Every node, tainted control planes included.
                    tolerations=[k8s.Toleration(operator="Exists")],
                ),
            ),
        ))
        self.service = self.add_service({self.metrics_port_name: PORT}, headless=True)
