"""A small private CA and the prometheus-adapter serving certificate.

The aggregator (kube-apiserver) dials ``<service>.<namespace>.svc`` and verifies the adapter's
certificate against the APIService ``caBundle``; the serving certificate therefore carries that
name (and the shorter/longer forms clients may use) and chains directly to the CA in the bundle.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from promstack.certs import CertError
from promstack.certs.sealing import cert_fingerprint

KeyType = Literal["ecdsa-p256", "rsa-2048"]
#: Supported key types, default first.
KEY_TYPES: tuple[KeyType, ...] = get_args(KeyType)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

DEFAULT_CA_DAYS = 3650
DEFAULT_SERVING_DAYS = 365
#: Longest serving certificate: as long as a CA this module generates (it may not outlive its CA).
MAX_SERVING_DAYS = DEFAULT_CA_DAYS
DEFAULT_CA_COMMON_NAME = "promstack prometheus-adapter CA"
#: notBefore is set this far in the past so a node whose clock lags slightly still accepts a fresh cert.
CLOCK_SKEW = timedelta(minutes=5)

__all__ = [
    "KEY_TYPES",
    "MAX_SERVING_DAYS",
    "KeyType",
    "PrivateKey",
    "ca_bundle_b64",
    "cert_fingerprint",
    "cert_to_pem",
    "generate_key",
    "issue_serving_cert",
    "key_to_pem",
    "key_type_of",
    "load_ca",
    "load_cert_pem",
    "new_ca",
    "serving_dns_names",
]


def generate_key(key_type: KeyType) -> PrivateKey:
    """A fresh private key: ECDSA P-256 (``"ecdsa-p256"``) or RSA 2048 (``"rsa-2048"``)."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}; expected one of {', '.join(KEY_TYPES)}")


def key_type_of(key: PrivateKey | CertificatePublicKeyTypes) -> str:
    """``"ecdsa-p256"``, ``"rsa-2048"`` or a descriptive name for other sizes/curves (e.g. ``"rsa-4096"``)."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384"}.get(key.curve.name, f"ecdsa-{key.curve.name}")
    return type(key).__name__


def serving_dns_names(service: str, namespace: str) -> list[str]:
    """The four names a Service answers to, shortest first; ``<service>.<namespace>.svc`` is the one
    the aggregator dials."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _public_der(key: PrivateKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_ca(
    key_type: KeyType = "ecdsa-p256",
    days: int = DEFAULT_CA_DAYS,
    common_name: str = DEFAULT_CA_COMMON_NAME,
    *,
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA (defaults: ECDSA P-256, 3650 days, CN ``promstack prometheus-adapter CA``).

    pathLen 0: it signs leaf certificates only.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or datetime.now(UTC)
    key = generate_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_serving_cert(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    *,
    service: str,
    namespace: str,
    key_type: KeyType = "ecdsa-p256",
    days: int = DEFAULT_SERVING_DAYS,
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A TLS serving certificate for Service ``service`` in ``namespace``, signed by the CA.

    Defaults: ECDSA P-256, 365 days. CN ``<service>.<namespace>.svc``; SANs from
    ``serving_dns_names``; EKU serverAuth; CA:FALSE (critical); KeyUsage digitalSignature, plus
    keyEncipherment for RSA (RSA key exchange); SKI and AKI. Raises ``CertError`` if the CA would
    expire before the certificate (the chain would break silently on that day); ``days`` must be
    1 to ``MAX_SERVING_DAYS``.
    """
    if not 1 <= days <= MAX_SERVING_DAYS:
        raise ValueError(f"days must be 1 to {MAX_SERVING_DAYS}")
    now = now or datetime.now(UTC)
    # Certificates keep whole seconds: without this a serving cert as long as a CA made at the same
    # `now` would seem to outlive it by the CA's dropped microseconds.
    not_after = (now + timedelta(days=days)).replace(microsecond=0)
    if not_after > ca_cert.not_valid_after_utc:
        left = (ca_cert.not_valid_after_utc - now).days
        raise CertError(
            "CA certificate",
            "notAfter",
            f"the CA expires on {ca_cert.not_valid_after_utc:%Y-%m-%d}, before a {days}-day serving certificate would",
            f"pass --days {max(left, 0)} or less, or use a newer CA",
        )
    key = generate_key(key_type)
    dns_names = serving_dns_names(service, namespace)
    try:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        )
    except x509.ExtensionNotFound:  # an imported CA without SKI: derive the id from its key
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[2])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def cert_to_pem(cert: x509.Certificate) -> bytes:
    """PEM text of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_to_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM of a private key (what prometheus-adapter's --tls-private-key-file reads)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ca_bundle_b64(ca_pem: bytes) -> str:
    """The APIService ``spec.caBundle`` value: base64 of the CA's PEM text."""
    return base64.b64encode(ca_pem).decode("ascii")


def load_cert_pem(pem: bytes, source: str, *, fix: str = "") -> x509.Certificate:
    """The first certificate in ``pem``; ``CertError`` naming ``source`` if there is none."""
    try:
        return x509.load_pem_x509_certificates(pem)[0]
    except ValueError as exc:
        raise CertError(source, "certificate", f"not a PEM certificate ({exc})", fix) from exc


def load_ca(
    cert_pem: bytes,
    key_pem: bytes,
    *,
    cert_source: str = "CA certificate",
    key_source: str = "CA key",
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """Load an existing CA (e.g. from ``--ca-out`` of an earlier run) and check it can sign.

    Raises ``CertError`` if the certificate is not a CA (BasicConstraints CA:TRUE), is expired
    or not yet valid, the key is encrypted, not RSA/ECDSA, or does not belong to the certificate.
    """
    now = now or datetime.now(UTC)
    cert = load_cert_pem(cert_pem, cert_source, fix="pass the CA certificate PEM with --ca-cert")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CertError(cert_source, "basicConstraints", "not a CA certificate (CA:TRUE missing)",
                        "pass the CA certificate with --ca-cert, not a leaf certificate")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertError(
            cert_source,
            "notAfter" if now > cert.not_valid_after_utc else "notBefore",
            f"the CA is valid only from {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} "
            f"to {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
            "omit --ca-cert/--ca-key to generate a new CA",
        )
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError as exc:  # raised for encrypted keys when no password is given
        raise CertError(key_source, "privateKey", "the key is encrypted",
                        "decrypt it first, e.g. `openssl pkey -in KEY -out PLAIN`") from exc
    except ValueError as exc:
        raise CertError(key_source, "privateKey", f"not a PEM private key ({exc})",
                        "pass the CA's private key with --ca-key") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertError(key_source, "privateKey", f"unsupported key type {type(key).__name__}",
                        "use an RSA or ECDSA CA key")
    if _public_der(key) != _public_der(cert):
        raise CertError(key_source, "privateKey", f"the key does not match {cert_source}",
                        "pass the key that belongs to --ca-cert")
    return cert, key
