"""The one seam through which the adapter gets its serving certificate.

Each TLS mode decides the adapter's volumes, mounts and flags, how the APIService trusts it,
and which extra objects it needs. Components never branch on the mode themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from promstack.component import empty_dir, mount
from promstack.config import ClusterConfig

CERT_DIR = "/var/run/serving-cert"


@dataclass(frozen=True)
class ServingTls:
    """What one TLS mode contributes to the adapter Deployment and its APIService."""

    volumes: list[k8s.Volume]
    mounts: list[k8s.VolumeMount]
    args: list[str]
    #: PEM of the CA the APIService trusts; None means verification is skipped.
    ca_bundle_pem: bytes | None
    apiservice_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def insecure(self) -> bool:
        return self.ca_bundle_pem is None and not self.apiservice_annotations


def self_signed() -> ServingTls:
    """The adapter generates its own certificate into an emptyDir; the APIService cannot verify it."""
    return ServingTls(
        volumes=[empty_dir("serving-cert", "8Mi")],
        mounts=[mount("serving-cert", CERT_DIR, read_only=False)],
        args=[f"--cert-dir={CERT_DIR}"],
        ca_bundle_pem=None,
    )


def serving_tls(cluster: ClusterConfig) -> ServingTls:
    mode = cluster.spec.adapter.tls.mode
    if mode == "self-signed":
        return self_signed()
    raise AssertionError(f"unhandled TLS mode {mode!r}")  # the config's Literal forbids this
