"""Prometheus: a StatefulSet with persistent storage that scrapes the cluster through service discovery."""

from __future__ import annotations

from typing import Any

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.config import names, versions, yamltext
from promstack.components.base import (
    ComponentChart,
    checksum,
    cluster_role_binding,
    config_map_volume,
    hardened_container,
    http_probe,
    mount,
)
from promstack.config.cluster import ClusterConfig
from promstack.gitops.delivery import ordering_annotations
from promstack.content.rules import JOBS, RULE_FILES_GLOB, RULES_DIR, rule_files

PORT = 9090
CONFIG_DIR = "/etc/prometheus"
DATA_DIR = "/prometheus"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# Ports are named so relabelling keeps only the metrics port of each Service.
KSM_METRICS_PORT_NAME = "http-metrics"


def _token_auth(*, verify_with_cluster_ca: bool = True) -> dict[str, Any]:
    tls: dict[str, Any] = {"ca_file": f"{SA_DIR}/ca.crt"}
    if not verify_with_cluster_ca:
        tls = {"insecure_skip_verify": True}
    return {
        "scheme": "https",
        "authorization": {"credentials_file": f"{SA_DIR}/token"},
        "tls_config": tls,
    }


def _keep(source: list[str], regex: str) -> dict[str, Any]:
    return {"source_labels": source, "action": "keep", "regex": regex}


def _copy(source: str, target: str) -> dict[str, Any]:
    return {"source_labels": [source], "target_label": target}


def scrape_configs(cluster: ClusterConfig, *, node_exporter_service: str, kube_state_metrics_service: str,
                   adapter_service: str) -> list[dict[str, Any]]:
    """The scrape jobs; job names are the ones dashboards and rules select on."""
    namespace = cluster.namespace
    kubelet_verify = cluster.spec.prometheus.kubelet_tls_verify
    slice_sd = [{"role": "endpointslice"}]
    own_namespace_sd = [{"role": "endpointslice", "namespaces": {"names": [namespace]}}]
    node_sd = [{"role": "node"}]
    service_labels = [
        _copy("__meta_kubernetes_namespace", "namespace"),
        _copy("__meta_kubernetes_service_name", "service"),
        _copy("__meta_kubernetes_pod_name", "pod"),
        _copy("__meta_kubernetes_pod_node_name", "node"),
    ]
    return [
        {
            "job_name": JOBS["prometheus"],
            "static_configs": [{"targets": [f"localhost:{PORT}"]}],
        },
        {
            "job_name": JOBS["apiserver"],
            "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": ["default"]}}],
            **_token_auth(),
            "relabel_configs": [
                _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                      "kubernetes;https"),
            ],
        },
        {
            # kubelet on 10250 over HTTPS with the service-account token (10255 is gone).
            "job_name": JOBS["kubelet"],
            "kubernetes_sd_configs": node_sd,
            **_token_auth(verify_with_cluster_ca=kubelet_verify),
            "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
        },
        {
            # cAdvisor is served by the kubelet at /metrics/cadvisor (its own port 4194 is gone).
            "job_name": JOBS["cadvisor"],
            "kubernetes_sd_configs": node_sd,
            "metrics_path": "/metrics/cadvisor",
            **_token_auth(verify_with_cluster_ca=kubelet_verify),
            "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
        },
        {
            "job_name": JOBS["node_exporter"],
            "kubernetes_sd_configs": own_namespace_sd,
            "relabel_configs": [
                _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                      f"{node_exporter_service};metrics"),
                *service_labels,
            ],
        },
        {
            # kube-state-metrics' own namespace/pod labels describe the objects it reports on.
            "job_name": JOBS["kube_state_metrics"],
            "honor_labels": True,
            "kubernetes_sd_configs": own_namespace_sd,
            "relabel_configs": [
                _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                      f"{kube_state_metrics_service};{KSM_METRICS_PORT_NAME}"),
            ],
        },
        {
            # The adapter serves /metrics over HTTPS behind the API server's delegated authz; its
            # certificate depends on the TLS mode, so the scrape does not pin a CA.
            "job_name": JOBS["adapter"],
            "kubernetes_sd_configs": own_namespace_sd,
            **_token_auth(verify_with_cluster_ca=False),
            "relabel_configs": [
                _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                      f"{adapter_service};https"),
                *service_labels,
            ],
        },
        {
            "job_name": JOBS["service_endpoints"],
            "kubernetes_sd_configs": slice_sd,
            "relabel_configs": _annotation_relabelling("service") + service_labels,
        },
        {
            "job_name": JOBS["pods"],
            "kubernetes_sd_configs": [{"role": "pod"}],
            "relabel_configs": _annotation_relabelling("pod") + [
                _copy("__meta_kubernetes_namespace", "namespace"),
                _copy("__meta_kubernetes_pod_name", "pod"),
                _copy("__meta_kubernetes_pod_node_name", "node"),
            ],
        },
    ]


def _annotation_relabelling(role: str) -> list[dict[str, Any]]:
    """Opt-in scraping through prometheus.io/{scrape,scheme,path,port} annotations."""
    prefix = f"__meta_kubernetes_{role}_annotation_prometheus_io_"
    rules = [
        _keep([f"{prefix}scrape"], "true"),
        {"source_labels": [f"{prefix}scheme"], "action": "replace", "regex": "(https?)", "target_label": "__scheme__"},
        {"source_labels": [f"{prefix}path"], "action": "replace", "regex": "(.+)", "target_label": "__metrics_path__"},
        {
            "source_labels": ["__address__", f"{prefix}port"],
            "action": "replace",
            "regex": r"(.+?)(?::\d+)?;(\d+)",
            "replacement": "$1:$2",
            "target_label": "__address__",
        },
    ]
    if role == "pod":
        # Only running pods; a completed Job's pod would show up as a target that is down.
        rules.insert(1, {"source_labels": ["__meta_kubernetes_pod_phase"], "action": "drop",
                         "regex": "Pending|Succeeded|Failed|Unknown"})
    return rules


def render_config(cluster: ClusterConfig, scrape: list[dict[str, Any]]) -> str:
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": cluster.spec.prometheus.scrape_interval,
            "evaluation_interval": cluster.spec.prometheus.scrape_interval,
            "external_labels": {"cluster": cluster.name},
        },
    }
    config["rule_files"] = [RULE_FILES_GLOB]
    config["scrape_configs"] = scrape
    return yamltext.dump(config)


class Prometheus(ComponentChart):
    """Prometheus with a PersistentVolumeClaim, read-only cluster RBAC and a NodePort Service.

    ``service_url`` is the in-cluster URL other components use; ``scrape_jobs`` the job names;
    ``rule_files`` the recording and alerting rules (thresholds from ``alerts``), mounted under
    /etc/prometheus/rules.
    """

    def __init__(self, scope: Construct, *, cluster: ClusterConfig, node_exporter_service: str,
                 kube_state_metrics_service: str, adapter_service: str) -> None:
        super().__init__(scope, cluster=cluster, name=names.PROMETHEUS, component="server",
                         image=versions.PROMETHEUS)
        config = cluster.spec.prometheus
        self.port = PORT
        self.service_url = f"http://{names.PROMETHEUS}.{self.stack_namespace}.svc:{PORT}"
        scrape = scrape_configs(cluster, node_exporter_service=node_exporter_service,
                                kube_state_metrics_service=kube_state_metrics_service,
                                adapter_service=adapter_service)
        self.scrape_jobs = [job["job_name"] for job in scrape]
        self.rule_files = dict(sorted(rule_files(cluster.spec.alerts).items()))
        self.config_text = render_config(cluster, scrape)

        self.service_account(automount=True)
        self._rbac()
        self.config_map = k8s.KubeConfigMap(
            self, "config", metadata=self.meta(f"{names.PROMETHEUS}-config"),
            data={"prometheus.yml": self.config_text},
        )
        k8s.KubeConfigMap(self, "rules", metadata=self.meta(f"{names.PROMETHEUS}-rules"), data=self.rule_files)
        volumes = [config_map_volume("config", f"{names.PROMETHEUS}-config"),
                   config_map_volume("rules", f"{names.PROMETHEUS}-rules")]
        mounts = [mount("config", CONFIG_DIR), mount("rules", RULES_DIR), mount("data", DATA_DIR, read_only=False)]

        container = hardened_container(
            name="prometheus",
            image=versions.PROMETHEUS,
            resources=config.resources,
            args=[
                f"--config.file={CONFIG_DIR}/prometheus.yml",
                f"--storage.tsdb.path={DATA_DIR}",
                f"--storage.tsdb.retention.time={config.retention}",
                f"--web.listen-address=:{PORT}",
            ],
            ports=[k8s.ContainerPort(name="web", container_port=PORT, protocol="TCP")],
            volume_mounts=mounts,
            readiness=http_probe("/-/ready", "web", initial_delay=10),
            # WAL replay after a restart can take minutes on a large TSDB.
            liveness=http_probe("/-/healthy", "web", initial_delay=60, failures=6),
        )
        storage = config.storage
        self.stateful_set = k8s.KubeStatefulSet(
            self, "stateful-set",
            metadata=self.meta(),
            spec=k8s.StatefulSetSpec(
                service_name=f"{names.PROMETHEUS}-headless",
                replicas=1,
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container],
                    volumes=volumes,
                    # A new prometheus.yml or rule file rolls the pod.
                    annotations={"checksum/config": checksum(self.config_text, *self.rule_files.values())},
                    automount_token=True,
                    fs_group=65534,
                    termination_grace_period_seconds=300,
                ),
                volume_claim_templates=[
                    k8s.KubePersistentVolumeClaimProps(
                        # Claims the StatefulSet creates are never pruned by a sync: they hold the metrics.
                        metadata=k8s.ObjectMeta(name="data", labels=self.labels,
                                                annotations=ordering_annotations("PersistentVolumeClaim")),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=storage.storage_class,
                            resources=k8s.ResourceRequirements(
                                requests={"storage": k8s.Quantity.from_string(storage.size)}
                            ),
                        ),
                    )
                ],
                # Keep stored metrics when the StatefulSet is deleted or scaled down.
                persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                    when_deleted="Retain", when_scaled="Retain"
                ),
            ),
        )
        self.add_service({"web": PORT}, id_="headless-service", name=f"{names.PROMETHEUS}-headless", headless=True)
        self.service = self.add_service({"web": PORT}, node_ports={"web": config.node_port})

    def _rbac(self) -> None:
        read = ["get", "list", "watch"]
        k8s.KubeClusterRole(
            self, "cluster-role",
            metadata=self.meta(cluster_scoped=True),
            rules=[
                k8s.PolicyRule(api_groups=[""], resources=["nodes", "nodes/metrics", "services", "endpoints", "pods"],
                               verbs=read),
                k8s.PolicyRule(api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=read),
                k8s.PolicyRule(non_resource_ur_ls=["/metrics"], verbs=["get"]),
            ],
        )
        cluster_role_binding(self, "cluster-role-binding", meta=self.meta(cluster_scoped=True),
                             role=self.cluster_scoped_name(), subjects=[(self.stack_namespace, names.PROMETHEUS)])
