"""The one seam through which the adapter gets its serving certificate.

Each TLS mode decides the adapter's volumes, mounts and flags, how the APIService trusts it,
and which extra objects it adds to the adapter. Components never branch on the mode; the sealed
inputs arrive as values (``promstack.config.inputs``), read by synth, never by a construct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cdk8s import ApiObjectMetadata
from cdk8s_plus_27 import k8s

from promstack.certs.pki import serving_dns_names
from promstack.components.base import Component, add_sealed_secret, checksum, empty_dir, mount
from promstack.components.objects import KubeObject
from promstack.config import names
from promstack.config.inputs import SealedServingCert

CERT_DIR = "/var/run/serving-cert"


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


class AdapterTls(Protocol):
    """A TLS mode: adds its objects to the adapter and says what the adapter and APIService need."""

    def apply(self, adapter: Component) -> ServingTls: ...


def _secret_files(secret: str, cert_key: str,
                  key_key: str) -> tuple[list[k8s.Volume], list[k8s.VolumeMount], list[str]]:
    volume = k8s.Volume(name="serving-cert", secret=k8s.SecretVolumeSource(secret_name=secret, default_mode=0o440))
    args = [f"--tls-cert-file={CERT_DIR}/{cert_key}", f"--tls-private-key-file={CERT_DIR}/{key_key}"]
    return [volume], [mount("serving-cert", CERT_DIR)], args


@dataclass(frozen=True)
class SelfSignedTls:
    """The adapter generates its own certificate into an emptyDir; the APIService cannot verify it
    (insecureSkipTLSVerify). For bare clusters only; promstack's synth warns."""

    def apply(self, adapter: Component) -> ServingTls:
        return ServingTls(
            volumes=[empty_dir("serving-cert", "8Mi")],
            mounts=[mount("serving-cert", CERT_DIR, read_only=False)],
            args=[f"--cert-dir={CERT_DIR}"],
        )


@dataclass(frozen=True)
class SealedTls:
    """The SealedSecret written by `promstack certs issue`; the APIService trusts its CA bundle."""

    serving_cert: SealedServingCert

    def apply(self, adapter: Component) -> ServingTls:
        manifest = self.serving_cert.manifest
        add_sealed_secret(adapter, "serving-cert", manifest)
        volumes, mounts, args = _secret_files(manifest["metadata"]["name"], *names.ADAPTER_SERVING_KEYS)
        # A renewed certificate changes the ciphertext and so rolls the adapter's pods.
        rolled = checksum(*manifest["spec"]["encryptedData"].values())
        return ServingTls(volumes=volumes, mounts=mounts, args=args, ca_bundle_pem=self.serving_cert.ca_pem,
                          pod_annotations={"checksum/serving-cert": rolled})


@dataclass(frozen=True)
class CertManagerTls:
    """A self-signed Issuer and a Certificate; cert-manager's CA injector fills the APIService caBundle."""

    def apply(self, adapter: Component) -> ServingTls:
        # Imported here: the generated bindings take a third of a second to load, for clusters
        # that use cert-manager only.
        from certmanager_certificates.io import cert_manager as certificates
        from certmanager_issuers.io import cert_manager as issuers

        namespace, name = adapter.stack_namespace, adapter.app_name
        issuer = adapter.name("selfsigned")
        KubeObject.of(adapter, "issuer", issuers.IssuerProps(
            metadata=ApiObjectMetadata(name=issuer, namespace=namespace, labels=adapter.labels),
            spec=issuers.IssuerSpec(self_signed=issuers.IssuerSpecSelfSigned()),
        ))
        KubeObject.of(adapter, "certificate", certificates.CertificateProps(
            metadata=ApiObjectMetadata(name=name, namespace=namespace, labels=adapter.labels),
            spec=certificates.CertificateSpec(
                secret_name=names.ADAPTER_SERVING_SECRET,
                issuer_ref=certificates.CertificateSpecIssuerRef(name=issuer, kind="Issuer"),
                common_name=f"{name}.{namespace}.svc",
                dns_names=serving_dns_names(name, namespace),
                duration="8760h",
                renew_before="720h",
                usages=[certificates.CertificateSpecUsages.SERVER_AUTH,
                        certificates.CertificateSpecUsages.DIGITAL_SIGNATURE],
                private_key=certificates.CertificateSpecPrivateKey(
                    algorithm=certificates.CertificateSpecPrivateKeyAlgorithm.ECDSA, size=256,
                    rotation_policy=certificates.CertificateSpecPrivateKeyRotationPolicy.ALWAYS),
            ),
        ))
        volumes, mounts, args = _secret_files(names.ADAPTER_SERVING_SECRET, "tls.crt", "tls.key")
        return ServingTls(volumes=volumes, mounts=mounts, args=args,
                          apiservice_annotations={"cert-manager.io/inject-ca-from": f"{namespace}/{name}"})
