"""promstack.certs.pki: the adapter CA and serving certificate, checked with real X.509 verification."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from promstack.certs import CertError
from promstack.certs.pki import (
    KEY_TYPES,
    KeyType,
    PrivateKey,
    ca_bundle_b64,
    cert_to_pem,
    issue_serving_cert,
    key_to_pem,
    key_type_of,
    load_ca,
    new_ca,
    serving_dns_names,
)

EXPECTED_NAMES = [
    "prometheus-adapter",
    "prometheus-adapter.monitoring",
    "prometheus-adapter.monitoring.svc",
    "prometheus-adapter.monitoring.svc.cluster.local",
]

#: The ``issued`` fixture: key type, CA certificate and key, serving certificate and key.
Issued = tuple[KeyType, x509.Certificate, PrivateKey, x509.Certificate, PrivateKey]


def public_der(obj: x509.Certificate | PrivateKeyTypes) -> bytes:
    return obj.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module", params=KEY_TYPES)
def issued(request: pytest.FixtureRequest) -> Issued:
    ca_cert, ca_key = new_ca(request.param)
    cert, key = issue_serving_cert(
        ca_cert, ca_key, service="prometheus-adapter", namespace="monitoring", key_type=request.param, days=90
    )
    return request.param, ca_cert, ca_key, cert, key


def test_dns_names() -> None:
    assert serving_dns_names("prometheus-adapter", "monitoring") == EXPECTED_NAMES


def test_ca_is_a_ca(issued: Issued) -> None:
    key_type, ca_cert, ca_key, _, _ = issued
    constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    ca_cert.verify_directly_issued_by(ca_cert)  # self-signed
    assert key_type_of(ca_key) == key_type
    days = (ca_cert.not_valid_after_utc - datetime.now(UTC)).days
    assert 3649 <= days <= 3650


def test_serving_cert_verifies_against_the_ca(issued: Issued) -> None:
    _, ca_cert, _, cert, _ = issued
    cert.verify_directly_issued_by(ca_cert)


def test_serving_cert_does_not_verify_against_another_ca(issued: Issued) -> None:
    key_type, _, _, cert, _ = issued
    other_ca, _ = new_ca(key_type, common_name="promstack prometheus-adapter CA")  # same subject, other key
    with pytest.raises(InvalidSignature):
        cert.verify_directly_issued_by(other_ca)


def test_serving_cert_extensions(issued: Issued) -> None:
    key_type, ca_cert, _, cert, _ = issued
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) \
        == EXPECTED_NAMES
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    constraints = ext.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert usage.value.key_encipherment is (key_type == "rsa-2048")
    assert not usage.value.key_cert_sign
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "prometheus-adapter.monitoring.svc"
    assert cert.issuer == ca_cert.subject


def test_serving_key_matches_cert(issued: Issued) -> None:
    key_type, _, _, cert, key = issued
    assert public_der(cert) == public_der(key)
    assert key_type_of(key) == key_type
    assert isinstance(key, rsa.RSAPrivateKey if key_type == "rsa-2048" else ec.EllipticCurvePrivateKey)


def test_serving_cert_validity(issued: Issued) -> None:
    _, _, _, cert, _ = issued
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc < now  # backdated for clock skew
    assert 89 <= (cert.not_valid_after_utc - now).days <= 90


def test_serving_cert_may_not_outlive_its_ca() -> None:
    ca_cert, ca_key = new_ca("ecdsa-p256", days=30)
    with pytest.raises(CertError, match=r"^CA certificate: notAfter: .*; pass --days \d+ or less"):
        issue_serving_cert(ca_cert, ca_key, service="s", namespace="n", days=365)


def test_serving_cert_as_long_as_a_fresh_ca() -> None:
    # The CA's notAfter loses its microseconds when encoded; the same `now` must still fit.
    now = datetime.now(UTC).replace(microsecond=999_999)
    ca_cert, ca_key = new_ca("ecdsa-p256", days=3650, now=now)
    cert, _ = issue_serving_cert(ca_cert, ca_key, service="s", namespace="n", days=3650, now=now)
    assert cert.not_valid_after_utc == ca_cert.not_valid_after_utc


@pytest.mark.parametrize("days", [0, 3651, 3_000_000])
def test_serving_days_are_bounded(days: int) -> None:
    ca_cert, ca_key = new_ca("ecdsa-p256")
    with pytest.raises(ValueError, match="days must be 1 to 3650"):
        issue_serving_cert(ca_cert, ca_key, service="s", namespace="n", days=days)


def test_pem_helpers_round_trip(issued: Issued) -> None:
    _, ca_cert, _, cert, key = issued
    assert x509.load_pem_x509_certificate(cert_to_pem(cert)) == cert
    pem = key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_der(serialization.load_pem_private_key(pem, password=None)) == public_der(key)
    assert base64.b64decode(ca_bundle_b64(cert_to_pem(ca_cert))) == cert_to_pem(ca_cert)


def test_load_ca_round_trip(issued: Issued) -> None:
    _, ca_cert, ca_key, _, _ = issued
    cert, key = load_ca(cert_to_pem(ca_cert), key_to_pem(ca_key))
    assert cert == ca_cert and public_der(key) == public_der(ca_key)


def test_load_ca_refuses_a_key_of_another_ca(issued: Issued) -> None:
    key_type, ca_cert, _, _, _ = issued
    _, other_key = new_ca(key_type)
    with pytest.raises(CertError, match=r"^ca\.key: privateKey: the key does not match ca\.crt; "):
        load_ca(cert_to_pem(ca_cert), key_to_pem(other_key), cert_source="ca.crt", key_source="ca.key")


def test_load_ca_refuses_a_leaf_certificate(issued: Issued) -> None:
    _, _, _, cert, key = issued
    with pytest.raises(CertError, match=r"^leaf\.crt: basicConstraints: not a CA certificate"):
        load_ca(cert_to_pem(cert), key_to_pem(key), cert_source="leaf.crt")


def test_load_ca_refuses_an_expired_ca() -> None:
    ca_cert, ca_key = new_ca("ecdsa-p256", days=1, now=datetime.now(UTC) - timedelta(days=10))
    with pytest.raises(CertError, match=r"^old\.crt: notAfter: the CA is valid only from"):
        load_ca(cert_to_pem(ca_cert), key_to_pem(ca_key), cert_source="old.crt")


def test_load_ca_refuses_an_encrypted_key(issued: Issued) -> None:
    _, ca_cert, ca_key, _, _ = issued
    encrypted = ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(CertError, match=r"^ca\.key: privateKey: the key is encrypted; .*openssl pkey"):
        load_ca(cert_to_pem(ca_cert), encrypted, key_source="ca.key")


def test_load_ca_refuses_garbage() -> None:
    with pytest.raises(CertError, match=r"^x\.crt: certificate: not a PEM certificate"):
        load_ca(b"nope", b"nope", cert_source="x.crt")


def test_days_must_be_positive() -> None:
    with pytest.raises(ValueError):
        new_ca("ecdsa-p256", days=0)
