"""Past one Prometheus, in cluster.yaml: remote_write to a central store, external labels, HA pairs.

``prometheus.remoteWrite`` sends every sample to a store that speaks Prometheus' remote-write
protocol (Grafana Mimir, Thanos Receive, VictoriaMetrics cluster, Cortex, managed services).
Credentials never appear here: each endpoint names keys of the sealed Secret
``prometheus-remote-write`` (``promstack seal`` into
clusters/<name>/prometheus-remote-write.sealedsecret.yaml), mounted into Prometheus as files, and
the rendered prometheus.yml points at them with Prometheus' ``*_file`` fields. A CA certificate is
public: it may be a file of the cluster folder instead (rendered into a ConfigMap).

Every Prometheus carries the external label ``cluster: <cluster name>`` (``clusterLabel`` renames it
or sets its value) plus ``externalLabels``; with two replicas each also carries its pod name under
``replicaLabel``, so the central store can deduplicate the pair.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import AfterValidator, Field, model_validator

from promstack.config.model import (
    LabelName,
    Model,
    PositiveDuration,
    SecretKey,
    Text,
    free_text,
    pattern_text,
    show,
)
from promstack.config.scraping import Relabeling

#: The sealed Secret holding every remote-write credential (clusters/<name>/<it>.sealedsecret.yaml).
REMOTE_WRITE_SECRET = "prometheus-remote-write"
SEAL_COMMAND = (f"promstack seal --cluster <cluster> --name {REMOTE_WRITE_SECRET} --from-file <key>=<file>")
#: The default external label naming the cluster, and the one naming a replica of an HA pair
#: (Grafana Mimir's HA tracker defaults: -distributor.ha-tracker.cluster / .replica).
CLUSTER_LABEL = "cluster"
REPLICA_LABEL = "__replica__"

# http(s)://host[:port][/path][?query]: no user:password@ (a credential in git), no fragment.
_URL = re.compile(r"https?://[A-Za-z0-9]([-.A-Za-z0-9]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?"
                  r"(/[-._~%!$&'()*+,;=:@/A-Za-z0-9]*)?(\?[-._~%!$&'()*+,;=:@/?A-Za-z0-9]*)?")
_NAME = re.compile(r"[a-zA-Z0-9][-_.a-zA-Z0-9]{0,62}")
_HEADER = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_]{0,127}")
_CA_FILE = re.compile(r"[A-Za-z0-9][-._A-Za-z0-9]{0,200}\.(crt|pem)")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_ROLE_ARN = re.compile(r"arn:aws[-a-z]*:iam::[0-9]{12}:role/[-+=,.@_/A-Za-z0-9]{1,512}")

_USERINFO = re.compile(r"[a-zA-Z][-+.a-zA-Z0-9]*://[^/?#]*@")


def _no_userinfo(value: str) -> str:
    # Checked first, and the value never echoed: it holds a password.
    if _USERINFO.match(value):
        raise ValueError("holds user:password@, a credential in git; write https://host[:port]/path and seal the "
                         f"credential (basicAuth.passwordSecret, `{SEAL_COMMAND}`)")
    return value


Url = Annotated[str, AfterValidator(_no_userinfo),
                pattern_text(_URL, "an http(s) URL", max_length=2048, fix="write https://host[:port]/path")]
RemoteWriteName = Annotated[str, pattern_text(_NAME, "a remote-write name (letters, digits, '-', '_', '.')")]
HeaderName = Annotated[str, pattern_text(_HEADER, "an HTTP header name")]
CaFile = Annotated[str, pattern_text(_CA_FILE, "a file of the cluster folder",
                                     fix="name a <name>.crt or <name>.pem file beside cluster.yaml")]
AwsRegion = Annotated[str, pattern_text(_REGION, "an AWS region", fix="write e.g. eu-west-1")]
RoleArn = Annotated[str, pattern_text(_ROLE_ARN, "an IAM role ARN", max_length=600,
                                      fix="write arn:aws:iam::<account>:role/<name>")]

#: Headers Prometheus sets itself or refuses in remote_write.headers (its config.reservedHeaders).
_RESERVED_HEADERS = frozenset({
    "host", "content-encoding", "content-length", "content-type", "user-agent", "connection", "keep-alive",
    "proxy-authenticate", "www-authenticate", "accept-encoding", "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
})
# A header whose value is a credential would sit in git and in a ConfigMap in plain text.
_CREDENTIAL_HEADER = re.compile(r"authorization|cookie|.*(auth|token|secret|password|passwd|api-?key).*", re.I)

#: Inline secrets users write out of habit (Prometheus' own names, camelCased), and the field that
#: takes the sealed key instead.
_INLINE_SECRETS = {
    "password": "basicAuth.passwordSecret", "bearerToken": "bearerTokenSecret", "bearer_token": "bearerTokenSecret",
    "credentials": "bearerTokenSecret", "authorization": "bearerTokenSecret",
    "clientSecret": "oauth2.clientSecretSecret", "client_secret": "oauth2.clientSecretSecret",
    "accessKey": "sigv4.roleArn (the pod's AWS identity)", "access_key": "sigv4.roleArn (the pod's AWS identity)",
    "secretKey": "sigv4.roleArn (the pod's AWS identity)", "secret_key": "sigv4.roleArn (the pod's AWS identity)",
    "key": "tls.keySecret",
}


def _refuse_inline_secrets(data: Any, secret: str) -> Any:
    if isinstance(data, dict):
        for key in data:
            if key in _INLINE_SECRETS:
                seal = SEAL_COMMAND.replace(REMOTE_WRITE_SECRET, secret)
                raise ValueError(
                    f"{key}: a secret never goes into a promstack file; seal it into "
                    f"clusters/<cluster>/{secret}.sealedsecret.yaml with `{seal}` and set "
                    f"{_INLINE_SECRETS[key]}: <key>")
    return data


def check_headers(headers: dict[str, str], *, seal: str) -> None:
    """ValueError for a header Prometheus sets itself, or one that would carry a credential."""
    for header in headers:
        if header.lower() in _RESERVED_HEADERS:
            raise ValueError(f"headers: {show(header)} is set by Prometheus itself; remove it")
        if _CREDENTIAL_HEADER.fullmatch(header):
            raise ValueError(
                f"headers: {show(header)} would carry a credential in plain text; authenticate with basicAuth, "
                f"bearerTokenSecret or oauth2, whose secrets are sealed (`{seal}`)")


class _NoInlineSecrets(Model):
    #: The sealed Secret the message sends an inline secret to.
    sealed_secret: ClassVar[str] = REMOTE_WRITE_SECRET

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        return _refuse_inline_secrets(data, cls.sealed_secret)


class RemoteWriteBasicAuth(_NoInlineSecrets):
    """Basic auth: ``username`` in the clear, the password as the sealed key ``passwordSecret``."""

    username: Annotated[str, Field(min_length=1, max_length=253), free_text(253)]
    password_secret: SecretKey


class RemoteWriteOAuth2(_NoInlineSecrets):
    """OAuth2 client credentials: ``clientId`` in the clear, the client secret as the sealed key
    ``clientSecretSecret``; a token from ``tokenUrl`` for ``scopes`` (optional ``endpointParams``)."""

    client_id: Annotated[str, Field(min_length=1, max_length=253), free_text(253)]
    client_secret_secret: SecretKey
    token_url: Url
    scopes: tuple[Annotated[str, free_text(253)], ...] = Field(default=(), strict=False)
    endpoint_params: dict[Annotated[str, free_text(253)], Text] = Field(default_factory=dict, max_length=20)


class RemoteWriteSigV4(_NoInlineSecrets):
    """AWS Signature Version 4 (Amazon Managed Service for Prometheus): the ``region``, and the
    ``roleArn`` to assume. The AWS credentials are the pod's own (IRSA, EKS Pod Identity or the
    node's role): never keys in cluster.yaml."""

    region: AwsRegion
    role_arn: RoleArn | None = None


class RemoteWriteTls(_NoInlineSecrets):
    """TLS towards the endpoint. The CA is ``caFile`` (a public file of the cluster folder, rendered
    into a ConfigMap) or ``caSecret`` (a sealed key); a client certificate is the sealed keys
    ``certSecret`` and ``keySecret``. Default: the system's CAs, no client certificate."""

    ca_file: CaFile | None = None
    ca_secret: SecretKey | None = None
    cert_secret: SecretKey | None = None
    key_secret: SecretKey | None = None
    server_name: Annotated[str, free_text(253)] | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> RemoteWriteTls:
        if self.ca_file and self.ca_secret:
            raise ValueError("give caFile or caSecret, not both")
        if bool(self.cert_secret) != bool(self.key_secret):
            raise ValueError("a client certificate needs both certSecret and keySecret")
        if self.insecure_skip_verify and (self.ca_file or self.ca_secret):
            raise ValueError("insecureSkipVerify ignores the CA given; drop one of them")
        return self

    def secret_keys(self) -> list[str]:
        return [k for k in (self.ca_secret, self.cert_secret, self.key_secret) if k]


class QueueConfig(Model):
    """Prometheus' queue_config, for endpoints that need tuning; each field defaults to Prometheus'
    own (capacity 10000, maxShards 50, minShards 1, maxSamplesPerSend 2000, batchSendDeadline 5s,
    minBackoff 30ms, maxBackoff 5s)."""

    capacity: int | None = Field(default=None, ge=1, le=1_000_000)
    max_shards: int | None = Field(default=None, ge=1, le=1000)
    min_shards: int | None = Field(default=None, ge=1, le=1000)
    max_samples_per_send: int | None = Field(default=None, ge=1, le=100_000)
    batch_send_deadline: PositiveDuration | None = None
    min_backoff: PositiveDuration | None = None
    max_backoff: PositiveDuration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QueueConfig:
        if self.min_shards and self.max_shards and self.min_shards > self.max_shards:
            raise ValueError(f"minShards {self.min_shards} is above maxShards {self.max_shards}; lower it")
        return self

    def to_prometheus(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(by_alias=False).items() if v is not None}


class RemoteWriteConfig(_NoInlineSecrets):
    """One remote-write endpoint: a ``name`` (unique; Prometheus' metrics about the queue carry it
    as ``remote_name``) and a ``url``. Optional: one of ``basicAuth``, ``bearerTokenSecret``,
    ``oauth2``, ``sigv4``; ``tls``; ``headers`` (e.g. ``X-Scope-OrgID`` for a Mimir tenant; never a
    credential); ``queueConfig``; ``writeRelabelConfigs`` (RE2 regexes, applied after the external
    labels are added); ``remoteTimeout`` (default Prometheus' 30s)."""

    name: RemoteWriteName
    url: Url
    basic_auth: RemoteWriteBasicAuth | None = None
    bearer_token_secret: SecretKey | None = None
    oauth2: RemoteWriteOAuth2 | None = None
    sigv4: RemoteWriteSigV4 | None = None
    tls: RemoteWriteTls | None = None
    headers: dict[HeaderName, Text] = Field(default_factory=dict, max_length=20)
    queue_config: QueueConfig | None = None
    write_relabel_configs: tuple[Relabeling, ...] = Field(default=(), strict=False, max_length=100)
    remote_timeout: PositiveDuration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RemoteWriteConfig:
        auth = [n for n, v in (("basicAuth", self.basic_auth), ("bearerTokenSecret", self.bearer_token_secret),
                               ("oauth2", self.oauth2), ("sigv4", self.sigv4)) if v]
        if len(auth) > 1:
            raise ValueError(f"{' and '.join(auth)} are both set; give one way to authenticate")
        check_headers(self.headers, seal=SEAL_COMMAND)
        if auth and auth != ["sigv4"] and self.url.startswith("http://"):
            raise ValueError(f"{auth[0]} over http:// sends the credential in clear text; use https://")
        if self.tls and not self.url.startswith("https://"):
            raise ValueError("tls applies to https:// URLs only")
        return self

    def secret_keys(self) -> list[str]:
        keys = [self.basic_auth.password_secret if self.basic_auth else None, self.bearer_token_secret,
                self.oauth2.client_secret_secret if self.oauth2 else None,
                *(self.tls.secret_keys() if self.tls else [])]
        return [k for k in keys if k]


def secret_keys(endpoints: tuple[RemoteWriteConfig, ...]) -> list[str]:
    """Every sealed key the endpoints name, in order, without repeats."""
    return list(dict.fromkeys(key for endpoint in endpoints for key in endpoint.secret_keys()))


def ca_files(endpoints: tuple[RemoteWriteConfig, ...]) -> list[str]:
    """Every CA file of the cluster folder the endpoints name, in order, without repeats."""
    return list(dict.fromkeys(e.tls.ca_file for e in endpoints if e.tls and e.tls.ca_file))


class ClusterLabel(Model):
    """The external label naming the cluster: ``name`` (default ``cluster``) and ``value`` (default
    the cluster's folder name)."""

    name: LabelName = CLUSTER_LABEL
    value: Annotated[str, Field(min_length=1), free_text(253)] | None = None


Mode = Literal["server", "agent"]


class _PastOne(Protocol):
    @property
    def remote_write(self) -> tuple[RemoteWriteConfig, ...]: ...
    @property
    def cluster_label(self) -> ClusterLabel: ...
    @property
    def external_labels(self) -> dict[str, str]: ...
    @property
    def replica_label(self) -> str: ...
    @property
    def mode(self) -> Mode: ...


def check_prometheus_fleet_settings(settings: _PastOne) -> None:
    """The checks across PrometheusConfig's fields this module adds: endpoint names unique, no
    external label set twice, agent mode forwarding somewhere."""
    names = [e.name for e in settings.remote_write]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"remoteWrite: names {', '.join(repeated)} are used twice; give each endpoint its own name")
    for name in settings.external_labels:
        if name in (settings.cluster_label.name, settings.replica_label):
            raise ValueError(f"externalLabels: {name} is set by clusterLabel or replicaLabel; remove it here")
    if settings.cluster_label.name == settings.replica_label:
        raise ValueError(f"clusterLabel.name and replicaLabel are both {settings.replica_label}; give them "
                         "different names")
    if settings.mode == "agent" and not settings.remote_write:
        raise ValueError("mode agent keeps no TSDB and only forwards samples: add a remoteWrite endpoint, or use "
                         "mode server")
