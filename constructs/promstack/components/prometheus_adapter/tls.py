"""The one seam through which the adapter gets its serving certificate.

Each TLS mode decides the adapter's volumes, mounts and flags, how the APIService trusts it,
and which extra objects it adds to the adapter's chart. Components never branch on the mode.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from cdk8s import ApiObjectMetadata
from cdk8s_plus_27 import k8s
from certmanager_certificates.io import cert_manager as certificates
from certmanager_issuers.io import cert_manager as issuers
from cryptography import x509

from promstack.config import names
from promstack.certs.pki import serving_dns_names
from promstack.components.base import ComponentChart, checksum, empty_dir, mount
from promstack.config.cluster import ConfigError
from promstack.components.sealed import add_sealed_secret, load_sealed_input

CERT_DIR = "/var/run/serving-cert"
ISSUE_COMMAND = "promstack certs issue --cluster {cluster} --sealing-cert <controller-cert.pem>"


@dataclass(frozen=True)
class ServingTls:
    """What one TLS mode contributes to the adapter Deployment and its APIService."""

    volumes: list[k8s.Volume]
    mounts: list[k8s.VolumeMount]
    args: list[str]
    #: PEM of the CA the APIService trusts (rendered as caBundle).
    ca_bundle_pem: bytes | None = None
    apiservice_annotations: dict[str, str] = field(default_factory=dict)
    #: Added to the adapter's pod template, e.g. to roll the pods when the certificate is renewed.
    pod_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def insecure(self) -> bool:
        """True when nothing lets the aggregator verify the adapter (insecureSkipTLSVerify)."""
        return self.ca_bundle_pem is None and not self.apiservice_annotations


def _secret_files(secret: str, cert_key: str, key_key: str) -> tuple[list[k8s.Volume], list[k8s.VolumeMount], list[str]]:
    volume = k8s.Volume(name="serving-cert", secret=k8s.SecretVolumeSource(secret_name=secret, default_mode=0o440))
    args = [f"--tls-cert-file={CERT_DIR}/{cert_key}", f"--tls-private-key-file={CERT_DIR}/{key_key}"]
    return [volume], [mount("serving-cert", CERT_DIR)], args


def self_signed(chart: ComponentChart) -> ServingTls:
    """The adapter generates its own certificate into an emptyDir; the APIService cannot verify it."""
    print(f"promstack: warning: cluster {chart.cluster.name}: adapter.tls.mode self-signed makes the API server "
          "skip TLS verification of the adapter (insecureSkipTLSVerify); use sealed or cert-manager",
          file=sys.stderr)
    return ServingTls(
        volumes=[empty_dir("serving-cert", "8Mi")],
        mounts=[mount("serving-cert", CERT_DIR, read_only=False)],
        args=[f"--cert-dir={CERT_DIR}"],
    )


def sealed(chart: ComponentChart) -> ServingTls:
    """The SealedSecret written by `promstack certs issue`; the APIService trusts its CA bundle."""
    cluster = chart.cluster
    sealed_file, ca_file = cluster.path / names.ADAPTER_SEALED_SECRET_FILE, cluster.path / names.ADAPTER_CA_FILE
    issue = f"run `{ISSUE_COMMAND.format(cluster=cluster.name)}`"
    missing = [p for p in (sealed_file, ca_file) if not p.exists()]
    if missing:
        raise ConfigError([f"{p}: (file): missing for adapter.tls.mode sealed; {issue}" for p in missing])
    manifest = load_sealed_input(sealed_file, name=names.ADAPTER_SERVING_SECRET, namespace=cluster.namespace,
                                 required_keys=("serving.crt", "serving.key"), fix=f"{issue} --force")
    ca_pem = ca_file.read_bytes()
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError("basicConstraints says it is not a CA")
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise ConfigError([f"{ca_file}: (file): not a PEM CA certificate ({exc}); {issue} --force"]) from None
    add_sealed_secret(chart, "serving-cert", manifest)
    volumes, mounts, args = _secret_files(names.ADAPTER_SERVING_SECRET, "serving.crt", "serving.key")
    return ServingTls(volumes=volumes, mounts=mounts, args=args, ca_bundle_pem=ca_pem,
                      pod_annotations={"checksum/serving-cert": checksum(*manifest["spec"]["encryptedData"].values())})


def cert_manager(chart: ComponentChart) -> ServingTls:
    """A self-signed Issuer and a Certificate; cert-manager's CA injector fills the APIService caBundle."""
    namespace, issuer = chart.stack_namespace, f"{names.PROMETHEUS_ADAPTER}-selfsigned"
    issuers.Issuer(
        chart, "issuer",
        metadata=ApiObjectMetadata(name=issuer, namespace=namespace, labels=chart.labels),
        spec=issuers.IssuerSpec(self_signed=issuers.IssuerSpecSelfSigned()),
    )
    certificates.Certificate(
        chart, "certificate",
        metadata=ApiObjectMetadata(name=names.PROMETHEUS_ADAPTER, namespace=namespace, labels=chart.labels),
        spec=certificates.CertificateSpec(
            secret_name=names.ADAPTER_SERVING_SECRET,
            issuer_ref=certificates.CertificateSpecIssuerRef(name=issuer, kind="Issuer"),
            common_name=f"{names.PROMETHEUS_ADAPTER}.{namespace}.svc",
            dns_names=serving_dns_names(names.PROMETHEUS_ADAPTER, namespace),
            duration="8760h",
            renew_before="720h",
            usages=[certificates.CertificateSpecUsages.SERVER_AUTH, certificates.CertificateSpecUsages.DIGITAL_SIGNATURE],
            private_key=certificates.CertificateSpecPrivateKey(
                algorithm=certificates.CertificateSpecPrivateKeyAlgorithm.ECDSA, size=256,
                rotation_policy=certificates.CertificateSpecPrivateKeyRotationPolicy.ALWAYS),
        ),
    )
    volumes, mounts, args = _secret_files(names.ADAPTER_SERVING_SECRET, "tls.crt", "tls.key")
    return ServingTls(volumes=volumes, mounts=mounts, args=args,
                      apiservice_annotations={"cert-manager.io/inject-ca-from": f"{namespace}/{names.PROMETHEUS_ADAPTER}"})


MODES = {"sealed": sealed, "cert-manager": cert_manager, "self-signed": self_signed}


def serving_tls(chart: ComponentChart) -> ServingTls:
    """Add the cluster's TLS mode's objects to ``chart`` and return what the adapter needs."""
    return MODES[chart.cluster.spec.adapter.tls.mode](chart)
