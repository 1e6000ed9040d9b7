"""Per-cluster configuration: clusters/<name>/cluster.yaml loaded into a frozen, typed ClusterConfig.

A cluster file holds only overrides; every default lives here, next to the setting it configures.
Keys are camelCase like the Kubernetes objects they end up in. Loading reports every problem at
once, each as ``<file>: <field.path>: <what is wrong>; <what is allowed>``, and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from promstack.components.prometheus_adapter.rules import AdapterRule, default_rules
from promstack.config import sizes
from promstack.content.rules import AlertsConfig

CLUSTER_FILE = "cluster.yaml"
#: Where the exported JSON Schema lives, relative to the repository root.
SCHEMA_PATH = Path("schema") / "cluster.schema.json"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes resource.Quantity, as apimachinery parses it.
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$")
# Prometheus duration (model.ParseDuration), e.g. 15d or 1w2d.
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
NODE_PORT_RANGE = (30000, 32767)


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid name; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity; write e.g. 250m, 1, 512Mi or 10Gi")
    return value


def _duration(value: str) -> str:
    if not value or not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a Prometheus duration; write e.g. 15d, 12h or 2w")
    return value


def _node_port(value: int) -> int:
    low, high = NODE_PORT_RANGE
    if not low <= value <= high:
        raise ValueError(f"{value} is outside the NodePort range; use {low}-{high}")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
def _number_as_text(value: Any) -> Any:
    # YAML reads `cpu: 2` as a number; Kubernetes accepts it, so do we.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]
Duration = Annotated[str, AfterValidator(_duration)]
NodePort = Annotated[int, AfterValidator(_node_port)]


def _prometheus_size(value: str) -> str:
    if sizes.prometheus_size_bytes(value) <= 0:
        raise ValueError(f"{value!r} is no size; give a positive one, e.g. 8GB")
    return value


PrometheusSize = Annotated[str, AfterValidator(_prometheus_size)]


class Model(BaseModel):
    """Frozen, strict about unknown keys, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, strict=True
    )


class ResourceAmounts(Model):
    cpu: Quantity
    memory: Quantity


class Resources(Model):
    """Container requests and limits; both are always rendered (no cdk8s-plus defaults)."""

    requests: ResourceAmounts
    limits: ResourceAmounts


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceAmounts(cpu=cpu, memory=memory),
        limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit),
    )


class NodeExporterConfig(Model):
    """node-exporter DaemonSet. Default resources: 50m/64Mi requested, 250m/180Mi limit."""

    resources: Resources = resources("50m", "64Mi", "250m", "180Mi")


class StorageConfig(Model):
    """Prometheus' volumeClaimTemplate. Defaults: 10Gi, the cluster's default StorageClass."""

    size: Quantity = "10Gi"
    storage_class: str | None = None


class PrometheusConfig(Model):
    """Prometheus StatefulSet.

    Defaults: NodePort 30090, retention 15d, 10Gi on the default StorageClass, 500m/2Gi
    requested and 2/4Gi limit, kubelet's serving certificate not verified (kubeadm's kubelets
    serve a self-signed certificate; set ``kubeletTlsVerify: true`` where kubelet certificates are
    signed by the cluster CA, e.g. with serverTLSBootstrap).

    ``retentionSize`` caps the TSDB by size as well as by age, so a busy cluster deletes its oldest
    blocks instead of filling the claim and stopping: default 85% of ``storage.size`` (``8704MB``
    for 10Gi), an explicit value in Prometheus' units (B, KB, MB, GB, TB, PB, EB; 1KB = 1024B) no
    larger than the claim.
    """

    node_port: NodePort = 30090
    retention: Duration = "15d"
    retention_size: PrometheusSize | None = Field(
        default=None,
        description="--storage.tsdb.retention.size in Prometheus' units (B, KB, MB, GB, TB, PB, EB; 1KB = 1024B), "
        "at most storage.size; default 85% of storage.size",
    )
    storage: StorageConfig = StorageConfig()
    scrape_interval: Duration = "30s"
    kubelet_tls_verify: bool = False
    resources: Resources = resources("500m", "2Gi", "2", "4Gi")

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
    """kube-state-metrics Deployment. Default resources: 100m/190Mi requested, 500m/512Mi limit."""

    resources: Resources = resources("100m", "190Mi", "500m", "512Mi")


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

    Defaults: 1 replica (2 or more adds a PodDisruptionBudget), metrics relisted every 1m,
    100m/128Mi requested and 500m/512Mi limit, upstream's six default rules plus ``rules``.
    """

    replicas: int = Field(default=1, ge=1, le=10)
    metrics_relist_interval: Duration = "1m"
    default_rules: bool = True
    rules: tuple[AdapterRule, ...] = Field(default=(), strict=False)  # YAML gives a list
    tls: TlsConfig = TlsConfig()
    resources: Resources = resources("100m", "128Mi", "500m", "512Mi")

    @property
    def all_rules(self) -> tuple[AdapterRule, ...]:
        return (default_rules() if self.default_rules else ()) + self.rules


class ExampleAppConfig(Model):
    """An example workload that proves the custom metrics path end to end (default: off).

    podinfo counts requests in http_requests_total; an adapter rule serves its rate as
    ``http_requests_per_second`` and an autoscaling/v2 HPA keeps it near ``targetAverageValue``
    per pod, between ``minReplicas`` (1) and ``maxReplicas`` (5). Lives in its own namespace
    (default ``promstack-example``).
    """

    enabled: bool = False
    namespace: DnsLabel = "promstack-example"
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=5, ge=1)
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
    storage_class: str | None = None


class GrafanaConfig(Model):
    """Grafana Deployment. Defaults: NodePort 30300, 100m/128Mi requested and 500m/512Mi limit,
    no persistence."""

    node_port: NodePort = 30300
    persistence: GrafanaPersistenceConfig = GrafanaPersistenceConfig()
    resources: Resources = resources("100m", "128Mi", "500m", "512Mi")


# Here, not at the top: alerting.py builds on the scalar types and the Model base defined above.
from promstack.config.alerting import AlertmanagerConfig  # noqa: E402


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

    def node_ports(self) -> dict[str, int]:
        return {"prometheus.nodePort": self.prometheus.node_port, "grafana.nodePort": self.grafana.node_port}


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


class ConfigError(Exception):
    """One or more problems in a cluster's input; each line names the file, the field and the fix."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        # Raised in synth's worker processes and re-raised in the parent: keep the problem list.
        return ConfigError, (self.problems,)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling against schema/cluster.schema.json"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required here; add it"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be")
    return f"{msg.replace('Input should be', 'must be')} (got {error.get('input')!r})"


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict[str, Any], source: str,
                   describe: Callable[[dict[str, Any]], str] = _describe) -> M:
    """``model`` from parsed YAML, or a ConfigError with one ``source: field.path: problem`` per error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # Validator wrappers (function-after[...]) are pydantic's, not a field a user wrote.
            loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
            problems.append(f"{source}: {_field_path(loc)}: {describe(dict(error))}")
        raise ConfigError(problems) from None


def read_yaml(file: Path, *, if_missing: str) -> Any:
    """Parsed YAML (duplicate keys refused), or a ConfigError naming the file, the line and the fix."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: (file): missing; {if_missing}"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{file}: {where}: not valid YAML: {problem}"]) from None


def parse_spec(data: Any, source: str) -> ClusterSpec:
    """Validate already-parsed YAML; raise ConfigError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: (top level): must be a mapping of settings, got {type(data).__name__}"])
    return validate_model(ClusterSpec, data, source)


def load_cluster(cluster_dir: Path) -> ClusterConfig:
    """Load and validate clusters/<name>/cluster.yaml; the folder name is the cluster name."""
    cluster_dir = Path(cluster_dir)
    file = cluster_dir / CLUSTER_FILE
    name = cluster_dir.name
    if not _DNS1123_LABEL.match(name) or len(name) > 63:
        raise ConfigError(
            [f"{cluster_dir}: (folder name): {name!r} is not a valid cluster name; rename the folder "
             "to lowercase letters, digits and '-'"]
        )
    data = read_yaml(file, if_missing="create it (an empty file means all defaults)")
    return ClusterConfig(name=name, path=cluster_dir, spec=parse_spec(data, str(file)))


def discover_clusters(clusters_dir: Path) -> list[Path]:
    """Every folder under clusters/ holding a cluster.yaml, sorted by name."""
    return sorted(p.parent for p in Path(clusters_dir).glob(f"*/{CLUSTER_FILE}"))


def load_all(clusters_dir: Path) -> list[ClusterConfig]:
    """Load every cluster, collecting the problems of all of them before failing."""
    configs, problems = [], []
    folders = discover_clusters(clusters_dir)
    if not folders:
        raise ConfigError([f"{clusters_dir}: (folder): no <name>/{CLUSTER_FILE} found; add a cluster folder"])
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
