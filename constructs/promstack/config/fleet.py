"""The fleet: how every cluster folder in dist/ reaches its cluster, from clusters/fleet.yaml.

One file for the whole repository (next to the cluster folders, never inside one). It names the
git repository that holds the rendered ``dist/`` and configures the two delivery tools whose
bootstrap objects ``promstack.delivery`` renders: Argo CD and Flux. Loading reports every problem
at once, as ``<file>: <field.path>: <what is wrong>; <what is allowed>``, like cluster.yaml.

Destination templates (``argocd.destinationName``, ``flux.kubeConfigSecret``) may contain
``{cluster}``, replaced by the cluster folder name. Without them every cluster's stack is applied
to the cluster the delivery tool runs in, which suits a repository with one cluster only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from promstack.config.hub import HubConfig
from promstack.config.images import RegistryMirror
from promstack.config.model import (
    ConfigError,
    DnsLabel,
    GoDuration,
    Model,
    describe,
    pattern_text,
    show,
    show_path,
    validate_model,
)
from promstack.config.yamlio import read_yaml

FLEET_FILE = "fleet.yaml"
#: The placeholder destination templates may contain.
CLUSTER_PLACEHOLDER = "{cluster}"

# One visible character of a URL: no whitespace, no control character.
_URL_CHAR = r"[^\s\x00-\x1f\x7f-\x9f]"
# https://host/path, ssh://[user@]host/path or scp-like git@host:path.
_GIT_URL = re.compile(
    rf"https://[^\s/@\x00-\x1f\x7f-\x9f]+(:[0-9]+)?/{_URL_CHAR}+"
    rf"|ssh://([^\s@/\x00-\x1f\x7f-\x9f]+@)?[^\s/@\x00-\x1f\x7f-\x9f]+(:[0-9]+)?/{_URL_CHAR}+"
    rf"|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:{_URL_CHAR}+"
)
_API_SERVER = re.compile(rf"https://[^\s/@\x00-\x1f\x7f-\x9f]+(:[0-9]+)?(/{_URL_CHAR}*)?")
# A relative folder of the repository, e.g. dist/clusters.
_REPO_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_GIT_REF = re.compile(r"(?!.*\.\.)(?!/)(?!.*//)(?!.*/\Z)[A-Za-z0-9._/-]+")
_NAME_PREFIX = re.compile(r"([a-z0-9][-a-z0-9]*)?")
_NAME_TEMPLATE = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_URL_MAX_LENGTH = 2048


def _repo_path(value: str) -> str:
    parts = value.split("/")
    if len(value) > 1024 or not _REPO_PATH.fullmatch(value) or ".." in parts or "." in parts:
        raise ValueError(
            f"{show(value)} is not a folder of the repository; write a relative path like dist/clusters "
            "(no leading ./ or /, no trailing /, no ..)"
        )
    return value


def _cluster_template(value: str) -> str:
    rest = value.replace(CLUSTER_PLACEHOLDER, "x")
    if not rest or len(rest) > 253 or not _NAME_TEMPLATE.fullmatch(rest):
        raise ValueError(
            f"{show(value)} is not a name template; use lowercase letters, digits, '-', '.' and {CLUSTER_PLACEHOLDER}"
        )
    return value


GitUrl = Annotated[str, pattern_text(_GIT_URL, "a git URL", max_length=_URL_MAX_LENGTH,
                                     fix="write https://host/org/repo.git, ssh://git@host/org/repo.git or "
                                         "git@host:org/repo.git")]
RepoPath = Annotated[str, AfterValidator(_repo_path)]
GitRef = Annotated[str, pattern_text(_GIT_REF, "a branch name", max_length=255, fix="write e.g. main or release/1.2")]
NamePrefix = Annotated[str, pattern_text(_NAME_PREFIX, "a name prefix", max_length=40,
                                         fix="use up to 40 lowercase letters, digits and '-', starting with a "
                                             "letter or digit")]
ClusterTemplate = Annotated[str, AfterValidator(_cluster_template)]
ApiServerUrl = Annotated[str, pattern_text(_API_SERVER, "a Kubernetes API server URL", max_length=_URL_MAX_LENGTH,
                                           fix="write https://host[:port]")]

IN_CLUSTER = "https://kubernetes.default.svc"


class ArgoCdConfig(Model):
    """Argo CD delivery.

    Defaults: enabled, project ``default``, objects in namespace ``argocd``, one ApplicationSet
    (``mode: applicationset``; ``applications`` renders one Application per cluster instead),
    Applications named ``promstack-<cluster>``, destination ``https://kubernetes.default.svc``
    (the cluster Argo CD runs in). ``destinationName`` (e.g. ``{cluster}``) names a cluster
    registered in Argo CD instead; set it or ``destinationServer``, not both.
    """

    enabled: bool = True
    project: DnsLabel = "default"
    namespace: DnsLabel = "argocd"
    mode: Literal["applicationset", "applications"] = "applicationset"
    destination_server: ApiServerUrl = IN_CLUSTER
    destination_name: ClusterTemplate | None = None
    app_name_prefix: NamePrefix = "promstack-"

    @model_validator(mode="after")
    def _one_destination(self) -> ArgoCdConfig:
        if self.destination_name is not None and "destination_server" in self.model_fields_set:
            raise ValueError("destinationServer and destinationName are both set; keep one")
        return self

    def destination(self, cluster: str) -> dict[str, str]:
        """The Application's destination for ``cluster`` (a name or a Go template expression)."""
        if self.destination_name is not None:
            return {"name": self.destination_name.replace(CLUSTER_PLACEHOLDER, cluster)}
        return {"server": self.destination_server}


class FluxConfig(Model):
    """Flux delivery.

    Defaults: enabled, objects in namespace ``flux-system``, a GitRepository named ``promstack``,
    reconciled every ``5m`` with a ``5m`` timeout, applied to the cluster Flux runs in.
    ``kubeConfigSecret`` (e.g. ``{cluster}-kubeconfig``) names a Secret in ``namespace`` holding
    the kubeconfig of the target cluster, for a management cluster that deploys the fleet.
    """

    enabled: bool = True
    namespace: DnsLabel = "flux-system"
    source_name: DnsLabel = "promstack"
    interval: GoDuration = "5m"
    timeout: GoDuration = "5m"
    kube_config_secret: ClusterTemplate | None = None


class FleetConfig(Model):
    """The contents of clusters/fleet.yaml; only ``repoURL`` is required.

    Defaults: branch ``main``; ``path`` ``dist/clusters``, the folder holding one rendered folder
    per cluster (as ``promstack synth`` writes it); no ``registryMirror`` (``host[:port][/path]``
    that every cluster's images are pulled through unless its ``images.registryMirror`` names
    another; see promstack/config/images.py).
    """

    repo_url: GitUrl = Field(alias="repoURL")
    revision: GitRef = "main"
    path: RepoPath = "dist/clusters"
    argocd: ArgoCdConfig = ArgoCdConfig()
    flux: FluxConfig = FluxConfig()
    registry_mirror: RegistryMirror | None = None
    hub: HubConfig | None = None

    def cluster_path(self, cluster: str) -> str:
        """The repository folder holding ``cluster``'s rendered manifests."""
        return f"{self.path}/{cluster}"


def _describe_fleet(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key; remove it or check its spelling (see promstack/config/fleet.py)"
    return describe(error)


def parse_fleet(data: Any, source: str) -> FleetConfig:
    """Validate already-parsed YAML; raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        got = "nothing" if data is None else type(data).__name__
        raise ConfigError([f"{source}: (top level): must be a mapping with at least repoURL, got {got}"])
    return validate_model(FleetConfig, data, source, _describe_fleet)


def load_fleet(clusters_dir: Path) -> FleetConfig:
    """Load and validate ``<clusters_dir>/fleet.yaml``."""
    file = Path(clusters_dir) / FLEET_FILE
    data = read_yaml(file, if_missing="create it with at least repoURL: <git URL of this repository>")
    return parse_fleet(data, show_path(file))


def load_hub(clusters_dir: Path) -> HubConfig | None:
    """The fleet's hub from ``<clusters_dir>/fleet.yaml``; None without a hub, or without the file
    (a cluster rendered on its own: ``load_fleet`` is where a missing fleet.yaml is an error)."""
    if not (Path(clusters_dir) / FLEET_FILE).exists():
        return None
    return load_fleet(clusters_dir).hub
