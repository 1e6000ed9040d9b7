"""Per-cluster configuration: clusters/<name>/cluster.yaml loaded into a frozen, typed ClusterConfig.

A cluster file holds only overrides; every default lives here, next to the setting it configures.
Keys are camelCase like the Kubernetes objects they end up in. Loading reports every problem at
once, each as ``<file>: <field.path>: <what is wrong>; <what is allowed>``, and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from promstack.components.prometheus_adapter.rules import EXAMPLE_APP_RULE, AdapterRule, default_rules
from promstack.config import names, sizes
from promstack.config.autoscaling import AutoscalingConfig
from promstack.config.exposure import (
    DEFAULT_NODE_PORTS,
    ApiExposure,
    Exposure,
    RemovedGrafanaNodePort,
    RemovedPrometheusNodePort,
)
from promstack.config.images import ImagesConfig
from promstack.config.model import (
    ConfigError,
    DnsLabel,
    GoDuration,
    LabelName,
    Model,
    PositiveDuration,
    Quantity,
    dns_subdomain,
    duration_ms,
    free_text,
    is_dns_label,
    quantity_value,
    show,
    show_path,
    validate_model,
)
from promstack.config.network import NetworkPolicyConfig
from promstack.config.remote_write import (
    REPLICA_LABEL,
    ClusterLabel,
    Mode,
    RemoteWriteConfig,
    check_prometheus_fleet_settings,
)
from promstack.config.scraping import ControlPlaneConfig, ExtraScrapeConfig
from promstack.config.yamlio import read_yaml
from promstack.content.autoscaling_check import adapter_rule_problems, target_query_problems
from promstack.content.rules import CONTROL_PLANE_JOBS, JOBS, AlertsConfig

CLUSTER_FILE = "cluster.yaml"
#: The fleet-wide folder under clusters/: its rules/ and dashboards/ reach every cluster. Never a
#: cluster (``_`` is no DNS label character, so no cluster can have this name) and never an error.
SHARED_DIR = "_shared"
#: Where the exported JSON Schema lives, relative to the repository root.
SCHEMA_PATH = Path("schema") / "cluster.schema.json"

def _prometheus_size(value: str) -> str:
    if sizes.prometheus_size_bytes(value) <= 0:
        raise ValueError(f"{value!r} is no size; give a positive one, e.g. 8GB")
    return value


PrometheusSize = Annotated[str, AfterValidator(_prometheus_size)]


def _storage_class(value: str) -> str:
    # "" is Kubernetes' own "no class": the claim binds only to a volume provisioned beforehand.
    return value if value == "" else dns_subdomain(value)


#: A StorageClass name (a DNS-1123 subdomain), or "" for no dynamic provisioning.
StorageClassName = Annotated[str, AfterValidator(_storage_class)]


class ResourceAmounts(Model):
    """An amount of cpu and memory, each a Kubernetes quantity above zero."""

    cpu: Quantity
    memory: Quantity


def _larger(a: str, b: str) -> str:
    """The larger of two quantities, as written."""
    return b if (quantity_value(b) or Decimal(0)) > (quantity_value(a) or Decimal(0)) else a


def _amounts(value: Any) -> ResourceAmounts | None:
    try:
        return ResourceAmounts.model_validate(value)
    except ValidationError:
        return None  # validated again in place, where its errors get their field path


class Resources(Model):
    """Container requests and limits; both are always rendered (no cdk8s-plus defaults).

    Give both, one, or neither: without ``limits`` the limits are the component's default limits,
    raised to the requests where those are higher; without ``requests`` the requests equal the
    limits (as Kubernetes itself defaults them); without either, the component's defaults apply.
    Requests above limits (cpu or memory) are an error.
    """

    model_config = ConfigDict(json_schema_extra=lambda schema: schema.pop("required", None))

    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        above = [
            f"requests.{kind} {getattr(self.requests, kind)} is above limits.{kind} {getattr(self.limits, kind)}"
            for kind in ("cpu", "memory")
            if (quantity_value(getattr(self.requests, kind)) or 0) > (quantity_value(getattr(self.limits, kind)) or 0)
        ]
        if above:
            raise ValueError(f"{' and '.join(above)}; lower the requests or raise the limits")
        return self

    def complete(self, given: Any) -> Any:
        """``given`` (a component's ``resources`` as written) with what it leaves out taken from
        ``self`` (the component's defaults), as the class docstring says."""
        if not isinstance(given, dict) or ("requests" in given and "limits" in given):
            return given
        if "limits" in given:
            limits = _amounts(given["limits"])
            return {**given, "requests": limits if limits is not None else self.requests}
        if "requests" in given:
            requests = _amounts(given["requests"])
            if requests is None:
                return {**given, "limits": self.limits}
            limits = ResourceAmounts(cpu=_larger(self.limits.cpu, requests.cpu),
                                     memory=_larger(self.limits.memory, requests.memory))
            return {**given, "limits": limits}
        return {**given, "requests": self.requests, "limits": self.limits}


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceAmounts(cpu=cpu, memory=memory),
        limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit),
    )


NODE_EXPORTER_RESOURCES = resources("50m", "64Mi", "250m", "180Mi")
PROMETHEUS_RESOURCES = resources("500m", "2Gi", "2", "4Gi")
KUBE_STATE_METRICS_RESOURCES = resources("100m", "190Mi", "500m", "512Mi")
ADAPTER_RESOURCES = resources("100m", "128Mi", "500m", "512Mi")
GRAFANA_RESOURCES = resources("100m", "128Mi", "500m", "512Mi")


class NodeExporterConfig(Model):
    """node-exporter DaemonSet. Default resources: 50m/64Mi requested, 250m/180Mi limit."""

    resources: Annotated[Resources, BeforeValidator(NODE_EXPORTER_RESOURCES.complete)] = NODE_EXPORTER_RESOURCES


class StorageConfig(Model):
    """Prometheus' volumeClaimTemplate. Defaults: 10Gi, the cluster's default StorageClass.

    ``storageClass`` names a StorageClass; "" asks for no class (a volume provisioned beforehand).
    """

    size: Quantity = "10Gi"
    storage_class: StorageClassName | None = None


class PrometheusConfig(Model):
    """Prometheus StatefulSet.

    Defaults: ClusterIP only (``exposure``), retention 15d, 10Gi on the default StorageClass, 500m/2Gi
    requested and 2/4Gi limit, kubelet's serving certificate not verified (kubeadm's kubelets
    serve a self-signed certificate; set ``kubeletTlsVerify: true`` where kubelet certificates are
    signed by the cluster CA, e.g. with serverTLSBootstrap).

    ``controlPlane`` opts into scraping kube-scheduler, kube-controller-manager, etcd and CoreDNS;
    ``extraScrapeConfigs`` adds a team's own jobs (see ``promstack.config.scraping``).

    Past one Prometheus (see ``promstack.config.remote_write``): ``remoteWrite`` endpoints (none by
    default), the external label ``clusterLabel`` (default ``cluster: <cluster name>``) plus
    ``externalLabels``; ``replicas`` 2 or 3 run an HA set, each replica labelled
    ``replicaLabel: <pod name>`` (default ``__replica__``); ``mode: agent`` scrapes and forwards
    only (default ``server``).

    ``retentionSize`` caps the TSDB by size as well as by age, so a busy cluster deletes its oldest
    blocks instead of filling the claim and stopping: default 85% of ``storage.size`` (``8704MB``
    for 10Gi), an explicit value in Prometheus' units (B, KB, MB, GB, TB, PB, EB; 1KB = 1024B) no
    larger than the claim.
    """

    node_port: RemovedPrometheusNodePort = None
    exposure: ApiExposure = ApiExposure()
    retention: PositiveDuration = "15d"
    retention_size: PrometheusSize | None = Field(
        default=None,
        description="--storage.tsdb.retention.size in Prometheus' units (B, KB, MB, GB, TB, PB, EB; 1KB = 1024B), "
        "at most storage.size; default 85% of storage.size",
    )
    storage: StorageConfig = StorageConfig()
    scrape_interval: PositiveDuration = "30s"
    kubelet_tls_verify: bool = False
    resources: Annotated[Resources, BeforeValidator(PROMETHEUS_RESOURCES.complete)] = PROMETHEUS_RESOURCES
    control_plane: ControlPlaneConfig = ControlPlaneConfig()
    extra_scrape_configs: tuple[ExtraScrapeConfig, ...] = Field(default=(), strict=False)
    remote_write: tuple[RemoteWriteConfig, ...] = Field(default=(), strict=False, max_length=20)
    cluster_label: ClusterLabel = ClusterLabel()
    external_labels: dict[LabelName, Annotated[str, free_text(1024)]] = Field(default_factory=dict, max_length=30)
    replicas: int = Field(default=1, ge=1, le=3)
    replica_label: LabelName = REPLICA_LABEL
    mode: Mode = "server"

    @model_validator(mode="after")
    def _past_one_prometheus(self) -> PrometheusConfig:
        check_prometheus_fleet_settings(self)
        return self

    @model_validator(mode="after")
    def _job_names_are_unique(self) -> PrometheusConfig:
        names = [job.job_name for job in self.extra_scrape_configs]
        built_in = {*JOBS.values(), *CONTROL_PLANE_JOBS.values()}
        taken = sorted({n for n in names if names.count(n) > 1 or n in built_in})
        if taken:
            raise ValueError(f"extraScrapeConfigs: job names {', '.join(taken)} are taken (by another extra job or "
                             "a built-in one); give each job its own name")
        return self

    @model_validator(mode="after")
    def _retention_size_fits_the_claim(self) -> PrometheusConfig:
        if self.retention_size is not None and (
                sizes.prometheus_size_bytes(self.retention_size) > sizes.quantity_bytes(self.storage.size)):
            raise ValueError(
                f"retentionSize {self.retention_size} is larger than storage.size {self.storage.size}; Prometheus "
                f"would fill the claim before deleting blocks: leave it out (default "
                f"{sizes.retention_size_for_claim(self.storage.size)}) or lower it"
            )
        return self

    @property
    def effective_retention_size(self) -> str:
        """``retentionSize``, or 85% of ``storage.size`` when it is not set."""
        return self.retention_size or sizes.retention_size_for_claim(self.storage.size)


class KubeStateMetricsConfig(Model):
    """kube-state-metrics Deployment. Default resources: 100m/190Mi requested, 500m/512Mi limit.

    ``secretMetrics`` (default false) adds the ``secrets`` resource (kube_secret_* metrics): it
    grants kube-state-metrics list/watch on every Secret of the cluster, values included.
    """

    secret_metrics: bool = False
    resources: Annotated[Resources, BeforeValidator(KUBE_STATE_METRICS_RESOURCES.complete)] = (
        KUBE_STATE_METRICS_RESOURCES
    )


class TlsConfig(Model):
    """How the adapter's serving certificate reaches it (default ``sealed``).

    ``sealed``: the SealedSecret and CA bundle that ``promstack certs issue`` wrote into the
    cluster folder; the APIService trusts exactly that CA (caBundle).
    ``cert-manager``: a self-signed Issuer and a Certificate; cert-manager's CA injector fills
    the APIService's caBundle. Needs cert-manager in the cluster.
    ``self-signed``: the adapter makes its own certificate and the APIService skips verification
    (insecureSkipTLSVerify). Explicit opt-in only; synth warns.
    """

    mode: Literal["sealed", "cert-manager", "self-signed"] = "sealed"


class PrometheusAdapterConfig(Model):
    """prometheus-adapter Deployment and its APIService.

    Defaults: 1 replica (2 or more adds a PodDisruptionBudget), metrics relisted every 1m (a Go
    duration: the adapter's --metrics-relist-interval flag, so no d or w), 100m/128Mi requested and
    500m/512Mi limit, upstream's six default rules plus ``rules`` (at most 100).
    """

    replicas: int = Field(default=1, ge=1, le=10)
    metrics_relist_interval: GoDuration = "1m"
    default_rules: bool = True
    rules: tuple[AdapterRule, ...] = Field(default=(), max_length=100, strict=False)  # YAML gives a list
    tls: TlsConfig = TlsConfig()
    resources: Annotated[Resources, BeforeValidator(ADAPTER_RESOURCES.complete)] = ADAPTER_RESOURCES

    @property
    def all_rules(self) -> tuple[AdapterRule, ...]:
        return (default_rules() if self.default_rules else ()) + self.rules


class ExampleAppConfig(Model):
    """An example workload that proves the custom metrics path end to end (default: off).

    podinfo counts requests in http_requests_total; an adapter rule serves its rate as
    ``http_requests_per_second``, and its autoscaling target (an HPA, or a KEDA ScaledObject on the
    same query under ``autoscaling.provider: keda``) keeps it near ``targetAverageValue`` per pod,
    between ``minReplicas`` (1) and ``maxReplicas`` (5), both at most 100. Lives in its own
    namespace (default ``promstack-example``).
    """

    enabled: bool = False
    namespace: DnsLabel = "promstack-example"
    min_replicas: int = Field(default=1, ge=1, le=100)
    max_replicas: int = Field(default=5, ge=1, le=100)
    target_average_value: Quantity = "10"

    @model_validator(mode="after")
    def _replica_range(self) -> ExampleAppConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below minReplicas {self.min_replicas}; raise it")
        return self


class GrafanaPersistenceConfig(Model):
    """Grafana's database (users, preferences, annotations) on a PersistentVolumeClaim.

    Default off: dashboards and the datasource are provisioned from git, so an emptyDir loses
    only what users changed by hand. Defaults when on: 1Gi on the default StorageClass.
    """

    enabled: bool = False
    size: Quantity = "1Gi"
    storage_class: StorageClassName | None = None


class GrafanaConfig(Model):
    """Grafana Deployment. Defaults: ClusterIP only (``exposure``), 100m/128Mi requested and 500m/512Mi limit,
    no persistence, the admin password sealed in the cluster folder.

    ``adminSecret``: ``sealed`` (clusters/<name>/grafana-admin.sealedsecret.yaml, required) or
    ``existing`` (a Secret grafana-admin with keys admin-user and admin-password, created once in
    the cluster by hand, for clusters without a Sealed Secrets controller). Never a default login.
    """

    node_port: RemovedGrafanaNodePort = None
    exposure: Exposure = Exposure()
    admin_secret: Literal["sealed", "existing"] = Field(
        default="sealed", description="where Grafana's admin credentials come from: sealed "
        "(grafana-admin.sealedsecret.yaml in the cluster folder) or existing (a Secret grafana-admin created in the "
        "cluster by hand, keys admin-user and admin-password)")
    persistence: GrafanaPersistenceConfig = GrafanaPersistenceConfig()
    resources: Annotated[Resources, BeforeValidator(GRAFANA_RESOURCES.complete)] = GRAFANA_RESOURCES


# Here, not at the top: alerting.py builds on the scalar types and the Model base defined above.
from promstack.config.alerting import AlertmanagerConfig  # noqa: E402 - it imports names defined above


class ClusterSpec(Model):
    """The contents of clusters/<name>/cluster.yaml: every key is optional."""

    model_config = ConfigDict(json_schema_extra={"title": "promstack cluster.yaml"})

    namespace: DnsLabel = "monitoring"
    node_exporter: NodeExporterConfig = NodeExporterConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    kube_state_metrics: KubeStateMetricsConfig = KubeStateMetricsConfig()
    adapter: PrometheusAdapterConfig = PrometheusAdapterConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    example_app: ExampleAppConfig = ExampleAppConfig()
    alerts: AlertsConfig = AlertsConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    images: ImagesConfig = ImagesConfig()
    network_policy: NetworkPolicyConfig = NetworkPolicyConfig()

    @model_validator(mode="after")
    def _unique_node_ports(self) -> ClusterSpec:
        seen: dict[int, str] = {}
        for field, port in self.node_ports().items():
            if port in seen:
                raise ValueError(
                    f"{field} {port} is already used by {seen[port]}; give each NodePort its own number"
                )
            seen[port] = field
        return self

    @model_validator(mode="after")
    def _example_app_is_scaled_once(self) -> ClusterSpec:
        if self.example_app.enabled and any(
                (t.workload.namespace, t.workload.name) == (self.example_app.namespace, names.EXAMPLE_APP)
                for t in self.autoscaling.targets):
            raise ValueError(f"autoscaling.targets: {self.example_app.namespace}/{names.EXAMPLE_APP} is the example "
                             "app, which exampleApp scales already; remove the target or set its "
                             "exampleApp.minReplicas/maxReplicas/targetAverageValue")
        return self

    @model_validator(mode="after")
    def _routed_uis_name_their_proxy(self) -> ClusterSpec:
        """An Ingress controller's or a Gateway's proxy pods reach a UI through its NetworkPolicy:
        promstack cannot know where they run, so the cluster names them."""
        if not self.network_policy.enabled:
            return self
        peers = self.network_policy.ui_peers
        for ui, exposure, configured in (("prometheus", self.prometheus.exposure, peers.prometheus),
                                         ("grafana", self.grafana.exposure, peers.grafana),
                                         ("alertmanager", self.alertmanager.exposure, peers.alertmanager)):
            if exposure.type in ("ingress", "gateway") and configured is None:
                proxy = "ingress controller" if exposure.type == "ingress" else "Gateway's proxy"
                raise ValueError(
                    f"{ui}.exposure.type {exposure.type}: the {proxy} pods reach {ui} through its NetworkPolicy, "
                    f"which admits nobody else by default; name them in networkPolicy.uiPeers.{ui}, e.g. "
                    "[{namespace: ingress-nginx}], or set networkPolicy.enabled: false")
        return self

    @model_validator(mode="after")
    def _keda_reads_prometheus_without_a_login(self) -> ClusterSpec:
        if self.autoscaling.provider == "keda" and self.prometheus.exposure.basic_auth:
            # A TriggerAuthentication reads Secrets of its own namespace, and a SealedSecret is bound
            # to one namespace: the client password cannot follow every target's namespace.
            raise ValueError(
                "autoscaling.provider keda: KEDA's ScaledObjects query Prometheus, which prometheus.exposure "
                "puts behind basic auth, and promstack cannot hand the client password to each target's "
                "namespace; expose Prometheus as clusterIP (no auth needed in-cluster), or set "
                "prometheus.exposure.auth: none")
        return self

    def node_ports(self) -> dict[str, int]:
        """The NodePort of every UI exposed as one, by the key that sets it."""
        exposures = {"prometheus": self.prometheus.exposure, "grafana": self.grafana.exposure,
                     "alertmanager": self.alertmanager.exposure}
        return {f"{ui}.exposure.nodePort": exposure.node_port or DEFAULT_NODE_PORTS[ui]
                for ui, exposure in exposures.items() if exposure.type == "nodePort"}


@dataclass(frozen=True)
class ClusterConfig:
    """A loaded cluster: its name (the folder name), its folder and its validated spec."""

    name: str
    path: Path
    spec: ClusterSpec

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    @property
    def file(self) -> Path:
        return self.path / CLUSTER_FILE


def parse_spec(data: Any, source: str) -> ClusterSpec:
    """Validate already-parsed YAML; raise ConfigError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: (top level): must be a mapping of settings, got {type(data).__name__}"])
    spec = validate_model(ClusterSpec, data, source)
    scrape_interval_seconds = (duration_ms(spec.prometheus.scrape_interval) or 0) / 1000
    problems = adapter_rule_problems(spec.adapter.rules, fixed_rules=_fixed_rules(spec), source=source,
                                     scrape_interval_seconds=scrape_interval_seconds)
    problems += target_query_problems(spec.autoscaling.targets, source=source,
                                      scrape_interval_seconds=scrape_interval_seconds)
    if problems:
        raise ConfigError(problems)
    return spec


def _fixed_rules(spec: ClusterSpec) -> list[tuple[str, AdapterRule]]:
    """The adapter rules the stack adds to a cluster's own, each described for an error message."""
    fixed = [(f"upstream's default rule {i + 1} (adapter.defaultRules)", rule)
             for i, rule in enumerate(default_rules() if spec.adapter.default_rules else ())]
    if spec.example_app.enabled:
        fixed.append(("the example app's rule (exampleApp.enabled)", EXAMPLE_APP_RULE))
    return fixed


def load_cluster(cluster_dir: Path) -> ClusterConfig:
    """Load and validate clusters/<name>/cluster.yaml; the folder name is the cluster name."""
    cluster_dir = Path(cluster_dir)
    file = cluster_dir / CLUSTER_FILE
    name = cluster_dir.name
    if not is_dns_label(name):
        raise ConfigError(
            [f"{show_path(cluster_dir)}: (folder name): {show(name)} is not a valid cluster name; rename the "
             "folder to at most 63 lowercase letters, digits and '-'"]
        )
    data = read_yaml(file, if_missing="create it (an empty file means all defaults)")
    return ClusterConfig(name=name, path=cluster_dir, spec=parse_spec(data, show_path(file)))


def _scan(clusters_dir: Path) -> tuple[list[Path], list[str]]:
    """The cluster folders under ``clusters_dir`` and one problem per folder that is none."""
    clusters_dir = Path(clusters_dir)
    if not clusters_dir.is_dir():
        return [], [f"{show_path(clusters_dir)}: (folder): missing or not a folder; create it with one "
                    f"<name>/{CLUSTER_FILE} per cluster"]
    folders, problems = [], []
    for entry in sorted(clusters_dir.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # hidden entries, fleet.yaml and other files
        if entry.name == SHARED_DIR:
            if (entry / CLUSTER_FILE).exists() or (entry / CLUSTER_FILE).is_symlink():
                problems.append(f"{show_path(entry)}: (folder): {SHARED_DIR}/ holds the rules/ and dashboards/ "
                                f"of every cluster and is no cluster; move {CLUSTER_FILE} into a folder named "
                                "after the cluster")
            continue
        file = entry / CLUSTER_FILE
        if file.exists() or file.is_symlink():  # a cluster.yaml that cannot be read is load_cluster's to report
            folders.append(entry)
            continue
        near = sorted(p.name for p in entry.iterdir() if p.name.lower().startswith("cluster."))
        fix = (f"rename {show(near[0])} to {CLUSTER_FILE}" if near else
               f"add {CLUSTER_FILE} (an empty file means all defaults) or move the folder out of {clusters_dir.name}/")
        problems.append(f"{show_path(entry)}: (folder): no {CLUSTER_FILE}, so it is not a cluster; {fix}")
    return folders, problems


def discover_clusters(clusters_dir: Path) -> list[Path]:
    """Every cluster folder under clusters/, sorted by name; a ConfigError names each folder that
    lacks a cluster.yaml. Hidden entries, plain files (fleet.yaml) and the fleet-wide ``_shared/``
    folder are skipped."""
    folders, problems = _scan(clusters_dir)
    if problems:
        raise ConfigError(problems)
    return folders


def load_all(clusters_dir: Path) -> list[ClusterConfig]:
    """Load every cluster, collecting the problems of all of them (and of stray folders) before failing."""
    folders, problems = _scan(clusters_dir)
    if not folders and not problems:
        raise ConfigError([f"{show_path(clusters_dir)}: (folder): no <name>/{CLUSTER_FILE} found; "
                           "add a cluster folder"])
    configs = []
    for folder in folders:
        try:
            configs.append(load_cluster(folder))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return configs


def json_schema() -> dict[str, Any]:
    """The JSON Schema of cluster.yaml, for editors (yaml-language-server) and reviewers."""
    schema = ClusterSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
