"""Prometheus: a StatefulSet with persistent storage that scrapes the cluster through service discovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.alertmanager import Alertmanager
from promstack.components.base import (
    Component,
    StackContext,
    add_sealed_secret,
    check_config_map_size,
    cluster_role_binding,
    config_map_volume,
    empty_dir,
    hardened_container,
    http_probe,
    mount,
    port,
    quantity,
)
from promstack.components.exposure import expose, node_ports
from promstack.components.kube_state_metrics import KubeStateMetrics
from promstack.components.network import ALL_PODS, Peer
from promstack.components.node_exporter import NodeExporter
from promstack.components.objects import KubeObject
from promstack.components.remote_write import CA_DIR, POD_NAME_ENV, remote_write
from promstack.components.remote_write import SECRETS_DIR as REMOTE_WRITE_DIR
from promstack.components.remote_write import external_labels as rendered_external_labels
from promstack.components.web_auth import WebAuth, require_web_auth, tcp_probe
from promstack.config import names, versions, yamlio
from promstack.config import remote_write as remote_write_config
from promstack.config.cluster import PrometheusConfig
from promstack.config.scraping import ControlPlaneConfig, ExtraScrapeConfig, secret_keys
from promstack.config.versions import Image
from promstack.content.rules import CONTROL_PLANE_JOBS, JOBS, RULE_FILES_GLOB, RULES_DIR, AlertsConfig, rule_files
from promstack.content.team import RULE_FILE_SUFFIX
from promstack.gitops.delivery import ordering_annotations

PORT = 9090
#: The kubelet's HTTPS port: its metrics and cAdvisor's (10255 and 4194 are gone).
KUBELET_PORT = 10250
CONFIG_DIR = "/etc/prometheus"
DATA_DIR = "/prometheus"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: Why the pod mounts its service-account token.
TOKEN_REASON = ("Prometheus discovers its targets through the Kubernetes API and scrapes the kubelet, cAdvisor "
                "and the API servers with this token")
#: Where the sealed scrape credentials (prometheus-scrape-secrets) are mounted.
SECRETS_DIR = "/etc/prometheus/secrets"
#: Where the web-auth Secret (web config, the clients' password) and Alertmanager's clients' password are mounted.
WEB_AUTH_DIR = "/etc/prometheus/web-auth"
ALERTMANAGER_AUTH_DIR = "/etc/prometheus/alertmanager-auth"
#: How often Prometheus checks prometheus.yml and the rule files it references for changes.
CONFIG_RELOAD_INTERVAL = "30s"
#: The agent's WAL volume (an emptyDir): samples wait there only until remote_write sends them.
AGENT_WAL_SIZE_LIMIT = "2Gi"



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


_SERVICE_LABELS = [
    _copy("__meta_kubernetes_namespace", "namespace"),
    _copy("__meta_kubernetes_service_name", "service"),
    _copy("__meta_kubernetes_pod_name", "pod"),
    _copy("__meta_kubernetes_pod_node_name", "node"),
]


def service_job(job_name: str, service: KubeObject, port_name: str, *, honor_labels: bool = False,
                https: bool = False, target_labels: bool = True) -> dict[str, Any]:
    """A job scraping the endpoints of ``service`` on its port ``port_name``, discovered in the
    Service's namespace. ``https`` scrapes with the service-account token (no CA pinned);
    ``target_labels`` adds namespace/service/pod/node, ``honor_labels`` keeps the target's own."""
    job: dict[str, Any] = {"job_name": job_name}
    if honor_labels:
        job["honor_labels"] = True
    job["kubernetes_sd_configs"] = [{"role": "endpointslice", "namespaces": {"names": [service.namespace]}}]
    if https:
        job.update(_token_auth(verify_with_cluster_ca=False))
    job["relabel_configs"] = [
        _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
              f"{service.name};{port_name}"),
        *(_SERVICE_LABELS if target_labels else []),
    ]
    return job


def core_jobs(*, kubelet_tls_verify: bool) -> list[dict[str, Any]]:
    """Prometheus itself, the API servers, kubelet and cAdvisor."""
    node_sd = [{"role": "node"}]
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
            **_token_auth(verify_with_cluster_ca=kubelet_tls_verify),
            "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
        },
        {
            # cAdvisor is served by the kubelet at /metrics/cadvisor (its own port 4194 is gone).
            "job_name": JOBS["cadvisor"],
            "kubernetes_sd_configs": node_sd,
            "metrics_path": "/metrics/cadvisor",
            **_token_auth(verify_with_cluster_ca=kubelet_tls_verify),
            "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
        },
    ]


def control_plane_jobs(control_plane: ControlPlaneConfig) -> list[dict[str, Any]]:
    """The enabled control-plane jobs: kube-system static pods found by their ``component`` label and
    scraped on the node address (they run on the host network), CoreDNS through the kube-dns Service."""
    jobs: list[dict[str, Any]] = []
    for key, job_name in CONTROL_PLANE_JOBS.items():
        target = getattr(control_plane, key)
        if not target.enabled:
            continue
        if key == "core_dns":
            jobs.append({
                "job_name": job_name,
                "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": ["kube-system"]}}],
                "relabel_configs": [
                    _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port"],
                          f"kube-dns;{target.port}"),
                    *_SERVICE_LABELS,
                ],
            })
            continue
        job: dict[str, Any] = {"job_name": job_name,
                               "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["kube-system"]}}]}
        if target.scheme == "https":
            job.update(_token_auth(verify_with_cluster_ca=target.tls_verify))
        job["relabel_configs"] = [
            _keep(["__meta_kubernetes_pod_label_component"], job_name),
            {"source_labels": ["__meta_kubernetes_pod_ip"], "target_label": "__address__",
             "replacement": f"$1:{target.port}"},
            _copy("__meta_kubernetes_pod_node_name", "node"),
            _copy("__meta_kubernetes_pod_name", "pod"),
        ]
        jobs.append(job)
    return jobs


def extra_job(job: ExtraScrapeConfig) -> dict[str, Any]:
    """A team's job as prometheus.yml spells it; credentials are files of the mounted sealed Secret."""
    out: dict[str, Any] = {"job_name": job.job_name}
    if job.scrape_interval:
        out["scrape_interval"] = job.scrape_interval
    if job.scrape_timeout:
        out["scrape_timeout"] = job.scrape_timeout
    if job.honor_labels:
        out["honor_labels"] = True
    out["metrics_path"] = job.metrics_path
    out["scheme"] = job.scheme
    if job.role:
        sd: dict[str, Any] = {"role": job.role}
        if job.namespaces:
            sd["namespaces"] = {"names": list(job.namespaces)}
        out["kubernetes_sd_configs"] = [sd]
    else:
        out["static_configs"] = [{"targets": list(job.static_targets)}]
    if job.bearer_token_secret:
        out["authorization"] = {"credentials_file": f"{SECRETS_DIR}/{job.bearer_token_secret}"}
    if job.basic_auth:
        out["basic_auth"] = {"username": job.basic_auth.username,
                             "password_file": f"{SECRETS_DIR}/{job.basic_auth.password_secret}"}
    if job.tls_insecure_skip_verify:
        out["tls_config"] = {"insecure_skip_verify": True}
    if job.relabelings:
        out["relabel_configs"] = [relabeling.to_prometheus() for relabeling in job.relabelings]
    return out


def annotation_jobs() -> list[dict[str, Any]]:
    """Every Service or pod annotated ``prometheus.io/scrape: "true"``, in any namespace.

    One job owns each target: an endpoint whose pod carries its own ``prometheus.io/scrape: "true"``
    is left to the pods job (its annotations say how to scrape it), so it is scraped once."""
    return [
        {
            "job_name": JOBS["service_endpoints"],
            "kubernetes_sd_configs": [{"role": "endpointslice"}],
            "relabel_configs": _annotation_relabelling("service") + _SERVICE_LABELS,
        },
        {
            "job_name": JOBS["pods"],
            "kubernetes_sd_configs": [{"role": "pod"}],
            "relabel_configs": [
                *_annotation_relabelling("pod"),
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
    else:
        # A pod annotated itself is the pods job's target: scraped by both jobs, every series would
        # be stored twice and every rate the adapter serves (a sum over both) doubled.
        rules.insert(1, {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                         "action": "drop", "regex": "true"})
    return rules


def alerting(alertmanager: Alertmanager, *, drop_label: str | None = None) -> dict[str, Any]:
    """Every Alertmanager replica, discovered through the headless Service: Prometheus must send
    each alert to each replica (the replicas deduplicate), never through a load-balanced Service.
    ``drop_label`` (an HA pair's replica label) is removed from alerts, so the two replicas' copies
    of one alert are one alert to Alertmanager. Behind basic auth, as the in-cluster clients' user."""
    service = alertmanager.headless_service
    auth = alertmanager.web_auth
    relabel = {"alert_relabel_configs": [{"action": "labeldrop", "regex": drop_label}]} if drop_label else {}
    return {**relabel, "alertmanagers": [{
        "api_version": "v2",
        **({"basic_auth": auth.client_basic_auth(ALERTMANAGER_AUTH_DIR)} if auth else {}),
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": [service.namespace]}}],
        "relabel_configs": [_keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                                  f"{service.name};{alertmanager.web_port_name}")],
    }]}


def render_config(settings: PrometheusConfig, external_labels: Mapping[str, str], scrape: list[dict[str, Any]],
                  alertmanager: Alertmanager | None = None) -> str:
    """prometheus.yml. ``external_labels`` are values as written (``$`` is escaped here); with two or
    more replicas each also carries ``settings.replicaLabel: <its pod name>``."""
    replica_label = settings.replica_label if settings.replicas > 1 else None
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
            "external_labels": rendered_external_labels(external_labels, replica_label=replica_label),
        },
    }
    # An agent evaluates no rules and sends no alerts: the central store's ruler does.
    if alertmanager is not None and settings.mode == "server":
        config["alerting"] = alerting(alertmanager, drop_label=replica_label)
    if settings.mode == "server":
        config["rule_files"] = [RULE_FILES_GLOB]
    config["scrape_configs"] = scrape
    if settings.remote_write:
        config["remote_write"] = [remote_write(endpoint) for endpoint in settings.remote_write]
    return yamlio.dump(config)


class Prometheus(Component):
    """Prometheus with a PersistentVolumeClaim, read-only cluster RBAC and a Service exposed as
    ``settings.exposure`` says (``exposure_tls``: the sealed certificate for ``tls.sealed``).

    It scrapes itself, the API servers, kubelet and cAdvisor, the ``node_exporter``,
    ``kube_state_metrics`` and ``alertmanager`` given (each optional; alerts go to every replica of
    the ``alertmanager``), anything added with ``add_scrape_job`` (the adapter
    adds itself) and every Service or pod annotated ``prometheus.io/scrape``. ``external_labels``
    default to ``settings.clusterLabel`` (``cluster: <context.instance>``) plus
    ``settings.externalLabels``. ``settings.remoteWrite`` endpoints read their credentials from
    ``remote_write_secret`` (the sealed prometheus-remote-write manifest, mounted) and their CA
    files from ``remote_write_cas`` (file name -> PEM, a ConfigMap). ``settings.replicas`` above 1
    runs an HA set (see ``promstack.config.remote_write``); ``settings.mode`` ``agent`` runs
    ``--agent``: no rules, no alerting, a WAL on an emptyDir instead of a claim.

    ``service_url`` is the in-cluster URL other components use; ``scrape_jobs`` the job names;
    ``rule_files`` the recording and alerting rules (thresholds from ``alerts``), mounted under
    /etc/prometheus/rules. ``extra_rule_files`` (file name ``<name>.rules.yaml`` -> text, e.g. a
    team's own, which promstack reads from clusters/<name>/rules/) go into the same ConfigMap beside
    them, where the ``rule_files`` glob loads them. ``config_map``, ``stateful_set`` and ``service``
    are the objects (KubeObject).

    A new prometheus.yml or rule file does not restart the pod: both ConfigMaps are mounted as
    whole directories (never subPath), so the kubelet swaps the files in place, and Prometheus'
    ``auto-reload-config`` feature reloads when the checksum of prometheus.yml or of any rule file
    it references changes. Only what Prometheus reads at start (flags, image, resources) is in the
    pod template.

    ``web_auth`` (the sealed prometheus-web-auth Secret of ``promstack seal-web-auth``) puts basic
    auth in front of it (``--web.config.file``; probes then check the TCP listener) and makes it
    scrape itself with the clients' credentials; ``web_auth`` the attribute tells its clients (Grafana,
    the adapter) how to log in. An ``alertmanager`` with ``web_auth`` is reached the same way.
    """

    def __init__(self, scope: Construct, id_: str = names.PROMETHEUS, *,
                 settings: PrometheusConfig = PrometheusConfig(), context: StackContext = StackContext(),
                 alerts: AlertsConfig = AlertsConfig(), external_labels: Mapping[str, str] | None = None,
                 node_exporter: NodeExporter | None = None, kube_state_metrics: KubeStateMetrics | None = None,
                 alertmanager: Alertmanager | None = None, scrape_secret: dict[str, Any] | None = None,
                 image: Image = versions.PROMETHEUS, extra_rule_files: Mapping[str, str] | None = None,
                 remote_write_secret: dict[str, Any] | None = None,
                 remote_write_cas: Mapping[str, str] | None = None,
                 exposure_tls: dict[str, Any] | None = None, web_auth: dict[str, Any] | None = None) -> None:
        super().__init__(scope, id_, context=context, component="server", image=image)
        for given, wanted, arg, what in (
                (scrape_secret, secret_keys(settings.extra_scrape_configs), "scrape_secret", "extraScrapeConfigs"),
                (remote_write_secret, remote_write_config.secret_keys(settings.remote_write), "remote_write_secret",
                 "remoteWrite")):
            missing = sorted(set(wanted) - set((given or {}).get("spec", {}).get("encryptedData", {})))
            if missing:
                raise ValueError(f"Prometheus {id_!r}: {arg} lacks the keys {', '.join(missing)} that {what} name")
        missing = sorted(set(remote_write_config.ca_files(settings.remote_write)) - set(remote_write_cas or {}))
        if missing:
            raise ValueError(f"Prometheus {id_!r}: remote_write_cas lacks the CA files {', '.join(missing)} that "
                             "remoteWrite names")
        config = settings
        self.port = PORT
        self.service_url = f"http://{self.app_name}.{self.stack_namespace}.svc:{PORT}"
        self._settings = settings
        self._external_labels = dict(external_labels or {settings.cluster_label.name: settings.cluster_label.value
                                                         or context.instance, **settings.external_labels})
        self._core_jobs = [*core_jobs(kubelet_tls_verify=settings.kubelet_tls_verify),
                           *control_plane_jobs(settings.control_plane)]
        #: The basic auth Prometheus requires (``web_auth``: the sealed prometheus-web-auth Secret), or None.
        self.web_auth: WebAuth | None = None
        if web_auth is not None:
            self.web_auth = require_web_auth(self, web_auth, keys=(
                names.WEB_CONFIG_KEY, names.CLIENT_PASSWORD_KEY, names.ADAPTER_AUTH_KEY))
            # Prometheus scrapes itself through its own web config.
            self._core_jobs = [{**job, "basic_auth": self.web_auth.client_basic_auth(WEB_AUTH_DIR)}
                               if job["job_name"] == JOBS["prometheus"] else job for job in self._core_jobs]
        self._component_jobs: list[dict[str, Any]] = []
        if node_exporter:
            self._component_jobs.append(
                service_job(JOBS["node_exporter"], node_exporter.service, node_exporter.metrics_port_name))
            self.connect(node_exporter, node_exporter.metrics_port_name)
        if kube_state_metrics:
            # kube-state-metrics' own namespace/pod labels describe the objects it reports on.
            self._component_jobs.append(
                service_job(JOBS["kube_state_metrics"], kube_state_metrics.service,
                            kube_state_metrics.metrics_port_name, honor_labels=True, target_labels=False))
            self.connect(kube_state_metrics, kube_state_metrics.metrics_port_name)
        self._alertmanager = alertmanager
        if alertmanager:
            alertmanager_job = service_job(JOBS["alertmanager"], alertmanager.service, alertmanager.web_port_name)
            if alertmanager.web_auth:
                alertmanager_job["basic_auth"] = alertmanager.web_auth.client_basic_auth(ALERTMANAGER_AUTH_DIR)
            self._component_jobs.append(alertmanager_job)
            # Scraped, and sent every alert (alerting), on the same port.
            self.connect(alertmanager, alertmanager.web_port_name)
        self.rule_files = dict(sorted(rule_files(alerts).items()))
        self.extra_rule_files = dict(sorted((extra_rule_files or {}).items()))
        for name in self.extra_rule_files:
            if name in self.rule_files or not name.endswith(RULE_FILE_SUFFIX):
                raise ValueError(f"Prometheus {self.app_name!r}: extra rule file {name!r} must be named "
                                 f"<name>{RULE_FILE_SUFFIX} (the rule_files glob) and not be a built-in one")
        rules_data = dict(sorted({**self.rule_files, **self.extra_rule_files}.items()))
        check_config_map_size(f"Prometheus {self.app_name!r}", self.name("rules"), rules_data)

        self.service_account(automount=True)
        self._rbac()
        self.config_map = KubeObject.of(self, "config", k8s.KubeConfigMapProps(metadata=self.meta(self.name("config")),
            data={"prometheus.yml": self.config_text},
        ))
        agent = settings.mode == "agent"
        self.rules_config_map = None if agent else KubeObject.of(
            self, "rules", k8s.KubeConfigMapProps(metadata=self.meta(self.name("rules")), data=rules_data))
        volumes = [config_map_volume("config", self.name("config"))]
        mounts = [mount("config", CONFIG_DIR)]
        if not agent:
            volumes.append(config_map_volume("rules", self.name("rules")))
            mounts.append(mount("rules", RULES_DIR))
        else:
            # The agent's WAL only holds what is not yet sent: no claim, a bounded scratch volume.
            volumes.append(empty_dir("data", AGENT_WAL_SIZE_LIMIT))
        mounts.append(mount("data", DATA_DIR, read_only=False))
        if scrape_secret is not None:
            add_sealed_secret(self, "scrape-secrets", scrape_secret)
            volumes.append(k8s.Volume(name="scrape-secrets", secret=k8s.SecretVolumeSource(
                secret_name=scrape_secret["metadata"]["name"], default_mode=0o440)))
            mounts.append(mount("scrape-secrets", SECRETS_DIR))
        if self.web_auth:
            volumes.append(self.web_auth.volume("web-auth"))
            mounts.append(mount("web-auth", WEB_AUTH_DIR))
        if alertmanager and alertmanager.web_auth:
            volumes.append(alertmanager.web_auth.volume("alertmanager-auth", names.CLIENT_PASSWORD_KEY))
            mounts.append(mount("alertmanager-auth", ALERTMANAGER_AUTH_DIR))
        if remote_write_secret is not None:
            add_sealed_secret(self, "remote-write-secrets", remote_write_secret)
            volumes.append(k8s.Volume(name="remote-write-secrets", secret=k8s.SecretVolumeSource(
                secret_name=remote_write_secret["metadata"]["name"], default_mode=0o440)))
            mounts.append(mount("remote-write-secrets", REMOTE_WRITE_DIR))
        if remote_write_cas:
            cas = dict(sorted(remote_write_cas.items()))
            check_config_map_size(f"Prometheus {self.app_name!r}", self.name("remote-write-ca"), cas)
            KubeObject.of(self, "remote-write-ca",
                          k8s.KubeConfigMapProps(metadata=self.meta(self.name("remote-write-ca")), data=cas))
            volumes.append(config_map_volume("remote-write-ca", self.name("remote-write-ca")))
            mounts.append(mount("remote-write-ca", CA_DIR))
        replicas = settings.replicas

        container = hardened_container(
            name="prometheus",
            image=image,
            resources=config.resources,
            args=[
                *(["--agent"] if agent else []),
                f"--config.file={CONFIG_DIR}/prometheus.yml",
                # Reload prometheus.yml and every rule file it references when their checksum changes.
                "--enable-feature=auto-reload-config",
                f"--config.auto-reload-interval={CONFIG_RELOAD_INTERVAL}",
                *([f"--storage.agent.path={DATA_DIR}"] if agent else [
                    f"--storage.tsdb.path={DATA_DIR}",
                    f"--storage.tsdb.retention.time={config.retention}",
                    # Whichever limit is reached first deletes the oldest blocks.
                    f"--storage.tsdb.retention.size={config.effective_retention_size}",
                ]),
                f"--web.listen-address=:{PORT}",
                *([f"--web.config.file={WEB_AUTH_DIR}/{names.WEB_CONFIG_KEY}"] if self.web_auth else []),
            ],
            ports=[k8s.ContainerPort(name="web", container_port=PORT, protocol="TCP")],
            volume_mounts=mounts,
            # Prometheus v3 expands ${POD_NAME} in external label values: an HA pair's replica label.
            env=[k8s.EnvVar(name=POD_NAME_ENV, value_from=k8s.EnvVarSource(
                field_ref=k8s.ObjectFieldSelector(field_path="metadata.name")))] if replicas > 1 else (),
            readiness=(tcp_probe("web", initial_delay=10) if self.web_auth
                       else http_probe("/-/ready", "web", initial_delay=10)),
            # WAL replay after a restart can take minutes on a large TSDB.
            liveness=(tcp_probe("web", initial_delay=60, failures=6) if self.web_auth
                      else http_probe("/-/healthy", "web", initial_delay=60, failures=6)),
        )
        storage = config.storage
        self.stateful_set = KubeObject.of(self, "stateful-set", k8s.KubeStatefulSetProps(
            metadata=self.meta(),
            spec=k8s.StatefulSetSpec(
                service_name=self.name("headless"),
                replicas=replicas,
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container],
                    volumes=volumes,
                    automount_token=True,
                    exceptions={"serviceAccountToken": TOKEN_REASON},
                    fs_group=65534,
                    termination_grace_period_seconds=300,
                    affinity=self.spread_over_nodes() if replicas > 1 else None,
                ),
                volume_claim_templates=None if agent else [
                    k8s.KubePersistentVolumeClaimProps(
                        # Claims the StatefulSet creates are never pruned by a sync: they hold the metrics.
                        # volumeClaimTemplates are immutable: no version label, or every upgrade fails.
                        metadata=k8s.ObjectMeta(name="data", labels=self.immutable_labels,
                                                annotations=ordering_annotations("PersistentVolumeClaim")),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=storage.storage_class,
                            resources=k8s.ResourceRequirements(
                                requests={"storage": quantity(storage.size)}
                            ),
                        ),
                    )
                ],
                # Keep stored metrics when the StatefulSet is deleted or scaled down.
                persistent_volume_claim_retention_policy=None if agent else
                k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(when_deleted="Retain", when_scaled="Retain"),
            ),
        ))
        if replicas > 1:
            KubeObject.of(self, "pod-disruption-budget", k8s.KubePodDisruptionBudgetProps(metadata=self.meta(),
                spec=k8s.PodDisruptionBudgetSpec(max_unavailable=port(1), selector=self.label_selector())))
        self.headless_service = self.add_service({"web": PORT}, id_="headless-service", name=self.name("headless"),
                                                 headless=True)
        self.service = self.add_service({"web": PORT}, node_ports=node_ports(config.exposure, "prometheus", "web"))
        self.route = expose(self, service=self.service, port_name="web", port=PORT, exposure=config.exposure,
                            tls_secret=exposure_tls)
        if replicas > 1:
            # The replicas scrape alike but not at the same instants: a client (Grafana, the adapter)
            # stays on one replica, so a dashboard or an HPA never flips between their answers.
            self.service.body["spec"]["sessionAffinity"] = "ClientIP"

    web_port_name = "web"

    @property
    def node_ports(self) -> list[int]:
        """Ports Prometheus scrapes on node addresses, besides host-network components it connects
        to: the kubelet (and cAdvisor in it) and the enabled control-plane components (host network)."""
        ports = [KUBELET_PORT]
        for key in CONTROL_PLANE_JOBS:
            target = getattr(self._settings.control_plane, key)
            if target.enabled and key != "core_dns" and target.port not in ports:
                ports.append(target.port)
        return ports

    @property
    def pod_targets_outside(self) -> list[tuple[Peer, int | None]]:
        """Pods beyond the stack's that Prometheus scrapes: the annotation-driven jobs find pods in
        every namespace on any port (CoreDNS and extra Kubernetes SD jobs' pods among them)."""
        return [(ALL_PODS, None)]

    def _rbac(self) -> None:
        read = ["get", "list", "watch"]
        KubeObject.of(self, "cluster-role", k8s.KubeClusterRoleProps(
            metadata=self.meta(cluster_scoped=True),
            rules=[
                k8s.PolicyRule(api_groups=[""], resources=["nodes", "nodes/metrics", "services", "endpoints", "pods"],
                               verbs=read),
                k8s.PolicyRule(api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=read),
                # Only when an extra job discovers Ingresses: least privilege otherwise.
                *([k8s.PolicyRule(api_groups=["networking.k8s.io"], resources=["ingresses"], verbs=read)]
                  if any(job.role == "ingress" for job in self._settings.extra_scrape_configs) else []),
                k8s.PolicyRule(non_resource_ur_ls=["/metrics"], verbs=["get"]),
            ],
        ))
        cluster_role_binding(self, "cluster-role-binding", meta=self.meta(cluster_scoped=True),
                             role=self.cluster_scoped_name(), subjects=[(self.stack_namespace, self.app_name)])

    @property
    def scrape_configs(self) -> list[dict[str, Any]]:
        return [*self._core_jobs, *self._component_jobs, *annotation_jobs(),
                *(extra_job(job) for job in self._settings.extra_scrape_configs)]

    @property
    def scrape_jobs(self) -> list[str]:
        return [job["job_name"] for job in self.scrape_configs]

    @property
    def config_text(self) -> str:
        """prometheus.yml as rendered."""
        return render_config(self._settings, self._external_labels, self.scrape_configs, self._alertmanager)

    def add_scrape_job(self, job: dict[str, Any]) -> None:
        """Scrape one more target (e.g. ``service_job(...)``), after the component jobs given at
        construction and before the annotation-driven jobs. Only the ConfigMap changes: the running
        Prometheus reloads it, the pod template stays as it is."""
        if job["job_name"] in self.scrape_jobs:
            raise ValueError(f"Prometheus {self.app_name!r}: a scrape job named {job['job_name']!r} exists already")
        self._component_jobs.append(job)
        self.config_map.body["data"]["prometheus.yml"] = self.config_text

    def scrape(self, job_name: str, component: Component, service: KubeObject, port_name: str,
               **options: bool) -> None:
        """Scrape ``component`` through its ``service`` on the port ``port_name`` (``service_job``
        ``options``: https, honor_labels, target_labels) and record the connection."""
        self.add_scrape_job(service_job(job_name, service, port_name, **options))
        self.connect(component, port_name)

    def scrape_annotated(self, component: Component, port_name: str) -> None:
        """Record that the annotation-driven jobs scrape ``component``'s pods on ``port_name``: its
        pod template must carry ``prometheus.io/scrape: "true"`` and that port's number."""
        number, _ = component.container_port(port_name)
        annotations = component.rendered_pod_template().get("metadata", {}).get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != str(number):
            raise ValueError(f"Prometheus {self.app_name!r}: {component.app_name!r} is scraped through its pod "
                             f"annotations, which must say prometheus.io/scrape \"true\" and prometheus.io/port "
                             f"\"{number}\" (its port {port_name!r})")
        self.connect(component, port_name)
