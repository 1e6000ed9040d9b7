"""What Prometheus scrapes beyond the stack, in cluster.yaml: the control plane and extra jobs.

Both are opt-in. The control-plane defaults are a kubeadm cluster's: kube-scheduler and
kube-controller-manager serve HTTPS with self-signed certificates on 10259 / 10257, etcd serves
plain HTTP metrics on 2381, CoreDNS serves 9153 behind the ``kube-dns`` Service. kubeadm binds the
first three to 127.0.0.1; they are reachable only once their bind/listen addresses are opened
(``--bind-address=0.0.0.0``, etcd ``--listen-metrics-urls=http://0.0.0.0:2381``).

Credentials of extra jobs never appear here: a job names keys of the sealed Secret
``prometheus-scrape-secrets`` (``promstack seal``), mounted into Prometheus as files.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from promstack.config.model import (
    DnsLabel,
    Duration,
    HostPort,
    LabelName,
    Model,
    PositiveDuration,
    SecretKey,
    Text,
    free_text,
    pattern_text,
)
from promstack.config.regex import re2_regex

#: The sealed Secret with every credential extra scrape jobs use (clusters/<name>/<it>.sealedsecret.yaml).
SCRAPE_SECRET = "prometheus-scrape-secrets"

_JOB_NAME = re.compile(r"[a-zA-Z0-9][-_.a-zA-Z0-9]{0,62}")
_PATH = re.compile(r"/[-._~%!$&'()*+,;=:@/a-zA-Z0-9]{0,1023}")

JobName = Annotated[str, pattern_text(_JOB_NAME, "a job name (letters, digits, '-', '_', '.')")]
Target = HostPort
MetricsPath = Annotated[str, pattern_text(_PATH, "an absolute URL path such as /metrics", max_length=1024)]
#: A relabel regex: Prometheus compiles it with Go's regexp (RE2), and so does promstack.
Regex = Annotated[str, AfterValidator(re2_regex)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ControlPlaneTarget(Model):
    """One control-plane component: off unless ``enabled``; ``port`` and ``scheme`` default to kubeadm's.
    HTTPS targets are scraped with Prometheus' service-account token; their certificates are
    self-signed under kubeadm, so ``tlsVerify`` (against the cluster CA) is off by default."""

    enabled: bool = False
    port: Port
    scheme: Literal["http", "https"]
    tls_verify: bool = False


class SchedulerTarget(ControlPlaneTarget):
    """kube-scheduler: https on 10259."""

    port: Port = 10259
    scheme: Literal["http", "https"] = "https"


class ControllerManagerTarget(ControlPlaneTarget):
    """kube-controller-manager: https on 10257."""

    port: Port = 10257
    scheme: Literal["http", "https"] = "https"


class EtcdTarget(ControlPlaneTarget):
    """etcd's metrics listener: http on 2381."""

    port: Port = 2381
    scheme: Literal["http", "https"] = "http"


class CoreDnsTarget(ControlPlaneTarget):
    """CoreDNS behind the kube-dns Service: port 9153."""

    port: Port = 9153
    scheme: Literal["http", "https"] = "http"


class ControlPlaneConfig(Model):
    """Opt-in scraping of kube-scheduler (https 10259), kube-controller-manager (https 10257), etcd
    (http 2381) and CoreDNS (port 9153 of the kube-dns Service), found as kube-system pods by their
    ``component`` label (CoreDNS by its Service)."""

    scheduler: SchedulerTarget = SchedulerTarget()
    controller_manager: ControllerManagerTarget = ControllerManagerTarget()
    etcd: EtcdTarget = EtcdTarget()
    core_dns: CoreDnsTarget = CoreDnsTarget()


class Relabeling(Model):
    """One relabel_config, in Prometheus' own terms (``sourceLabels``, ``regex``, ``targetLabel``,
    ``replacement``, ``action``)."""

    source_labels: tuple[LabelName, ...] = Field(default=(), strict=False)
    separator: Text | None = None
    regex: Regex | None = None
    target_label: LabelName | None = None
    replacement: Text | None = None
    action: Literal["replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop",
                    "labelkeep", "lowercase", "uppercase"] = "replace"

    @model_validator(mode="after")
    def _complete(self) -> Relabeling:
        if self.action in {"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"} \
                and not self.target_label:
            raise ValueError(f"action {self.action} needs targetLabel")
        if self.action in {"keep", "drop", "replace", "hashmod", "lowercase", "uppercase", "keepequal",
                           "dropequal"} and not self.source_labels:
            raise ValueError(f"action {self.action} needs sourceLabels")
        return self

    def to_prometheus(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.source_labels:
            out["source_labels"] = list(self.source_labels)
        for key, value in (("separator", self.separator), ("regex", self.regex),
                           ("target_label", self.target_label), ("replacement", self.replacement)):
            if value is not None:
                out[key] = value
        out["action"] = self.action
        return out


class BasicAuth(Model):
    """Basic auth: ``username`` in the clear, the password as the sealed key ``passwordSecret``."""

    username: Annotated[str, Field(min_length=1, max_length=253), free_text(253)]
    password_secret: SecretKey


class ExtraScrapeConfig(Model):
    """A team's own scrape job: Kubernetes service discovery (``role``, optionally limited to
    ``namespaces``) or ``staticTargets``, with ``relabelings``, and optional credentials from the
    sealed Secret (``bearerTokenSecret`` or ``basicAuth``). ``tlsInsecureSkipVerify`` only for https."""

    job_name: JobName
    role: Literal["endpointslice", "pod", "service", "node", "ingress"] | None = None
    namespaces: tuple[DnsLabel, ...] = Field(default=(), strict=False)
    static_targets: tuple[Target, ...] = Field(default=(), strict=False)
    metrics_path: MetricsPath = "/metrics"
    scheme: Literal["http", "https"] = "http"
    scrape_interval: PositiveDuration | None = None
    scrape_timeout: Duration | None = None
    honor_labels: bool = False
    bearer_token_secret: SecretKey | None = None
    basic_auth: BasicAuth | None = None
    tls_insecure_skip_verify: bool = False
    relabelings: tuple[Relabeling, ...] = Field(default=(), strict=False)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("bearerToken", "bearer_token", "password", "credentials", "authorization"):
                if key in data or (key == "password" and isinstance(data.get("basicAuth"), dict)
                                   and "password" in data["basicAuth"]):
                    raise ValueError(
                        f"{key}: a credential never goes into cluster.yaml; seal it with `promstack seal --cluster "
                        f"<cluster> --name {SCRAPE_SECRET} --from-file <key>=<file>` and name the key "
                        "(bearerTokenSecret, basicAuth.passwordSecret)")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ExtraScrapeConfig:
        if (self.role is None) == (not self.static_targets):
            raise ValueError("give exactly one of role (Kubernetes service discovery) or staticTargets")
        if self.namespaces and self.role is None:
            raise ValueError("namespaces limit Kubernetes service discovery; they need a role")
        if self.bearer_token_secret and self.basic_auth:
            raise ValueError("give bearerTokenSecret or basicAuth, not both")
        if self.tls_insecure_skip_verify and self.scheme != "https":
            raise ValueError("tlsInsecureSkipVerify applies to scheme https only")
        return self

    def secret_keys(self) -> list[str]:
        return [k for k in (self.bearer_token_secret, self.basic_auth.password_secret if self.basic_auth else None)
                if k]


def secret_keys(jobs: tuple[ExtraScrapeConfig, ...]) -> list[str]:
    """Every sealed key the extra jobs name, in order, without repeats."""
    return list(dict.fromkeys(key for job in jobs for key in job.secret_keys()))
