"""promstack.certs.sealing: kubeseal-compatible sealing, with real RSA/AES and a real key pair."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from certs_testkeys import weak_rsa_key
from promstack.certs import CertError
from promstack.certs.pki import PrivateKey
from promstack.certs.sealing import (
    CLUSTER_WIDE_ANNOTATION,
    NAMESPACE_WIDE_ANNOTATION,
    SCOPES,
    Scope,
    cert_fingerprint,
    dump_manifest,
    load_sealing_cert,
    read_sealed_secret,
    scope_label,
    seal_value,
    sealed_secret_manifest,
    unseal_value,
)

NOW = datetime.now(UTC)
#: The sealed-secrets controller's key pair.
Controller = tuple[rsa.RSAPrivateKey, x509.Certificate]


def self_signed(key: PrivateKey, *, not_before: datetime, not_after: datetime) -> x509.Certificate:
    """A certificate shaped like the sealed-secrets controller's (self-signed, CN/O sealed-secret)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def controller() -> Controller:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, self_signed(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=3650))


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_scope_labels() -> None:
    assert scope_label("monitoring", "db", "strict") == b"monitoring/db"
    assert scope_label("monitoring", "db", "namespace-wide") == b"monitoring"
    assert scope_label("monitoring", "db", "cluster-wide") == b""


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("value", [b"s3cr3t", b"", bytes(range(256)) * 40])
def test_round_trip_with_the_scope_label(controller: Controller, scope: Scope, value: bytes) -> None:
    key, cert = controller
    sealed = seal_value(cert, value, "monitoring", "db", scope)
    assert unseal_value(key, sealed, scope_label("monitoring", "db", scope)) == value


def test_wire_format_matches_sealed_secrets_hybrid_encrypt(controller: Controller) -> None:
    # Decrypt with the primitives spelled out here, not the library's own decoder, so a framing
    # mistake made symmetrically on both sides (byte order, nonce, hash) still fails.
    key, cert = controller
    raw = base64.b64decode(seal_value(cert, b"hello", "monitoring", "db", "strict"), validate=True)
    (rsa_len,) = struct.unpack(">H", raw[:2])
    assert rsa_len == 256  # RSA-2048 ciphertext
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=b"monitoring/db")
    session_key = key.decrypt(raw[2 : 2 + rsa_len], oaep)
    assert len(session_key) == 32
    aes_part = raw[2 + rsa_len :]
    assert len(aes_part) == len(b"hello") + 16  # ciphertext + GCM tag
    assert AESGCM(session_key).decrypt(bytes(12), aes_part, None) == b"hello"


def test_every_seal_uses_a_fresh_session_key(controller: Controller) -> None:
    _, cert = controller
    assert seal_value(cert, b"x", "ns", "n", "strict") != seal_value(cert, b"x", "ns", "n", "strict")


@pytest.mark.parametrize(
    ("sealed_scope", "wrong_label"),
    [
        ("strict", b"monitoring/other"),
        ("strict", b"monitoring"),
        ("namespace-wide", b""),
        ("cluster-wide", b"monitoring"),
    ],
)
def test_wrong_label_fails(controller: Controller, sealed_scope: Scope, wrong_label: bytes) -> None:
    key, cert = controller
    sealed = seal_value(cert, b"value", "monitoring", "db", sealed_scope)
    with pytest.raises(CertError, match="decryption failed"):
        unseal_value(key, sealed, wrong_label)


@pytest.mark.parametrize("offset", [0, 1, 2, 100, 258, -1])  # length, RSA block, AES body, GCM tag
def test_flipped_byte_fails(controller: Controller, offset: int) -> None:
    key, cert = controller
    raw = bytearray(base64.b64decode(seal_value(cert, b"value", "monitoring", "db", "strict")))
    raw[offset] ^= 0x01
    with pytest.raises(CertError):
        unseal_value(key, base64.b64encode(bytes(raw)).decode(), b"monitoring/db")


def test_other_private_key_fails(controller: Controller) -> None:
    _, cert = controller
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(CertError, match="decryption failed"):
        unseal_value(other, seal_value(cert, b"v", "ns", "n", "strict"), b"ns/n")


@pytest.mark.parametrize(
    ("scope", "annotations"),
    [
        ("strict", None),
        ("namespace-wide", {NAMESPACE_WIDE_ANNOTATION: "true"}),
        ("cluster-wide", {CLUSTER_WIDE_ANNOTATION: "true"}),
    ],
)
def test_manifest_shape_per_scope(controller: Controller, scope: Scope, annotations: dict[str, str] | None) -> None:
    key, cert = controller
    manifest = sealed_secret_manifest(
        cert, name="db", namespace="monitoring", data={"b": b"2", "a": b"1"}, scope=scope
    )
    assert manifest["apiVersion"] == "bitnami.com/v1alpha1"
    assert manifest["kind"] == "SealedSecret"
    assert manifest["metadata"].get("annotations") == annotations
    assert manifest["metadata"]["name"] == "db" and manifest["metadata"]["namespace"] == "monitoring"
    template = manifest["spec"]["template"]
    assert template == {"metadata": manifest["metadata"], "type": "Opaque"}
    encrypted = manifest["spec"]["encryptedData"]
    assert list(encrypted) == ["a", "b"]
    label = scope_label("monitoring", "db", scope)
    assert {k: unseal_value(key, v, label) for k, v in encrypted.items()} == {"a": b"1", "b": b"2"}


def test_manifest_labels_and_type(controller: Controller) -> None:
    _, cert = controller
    manifest = sealed_secret_manifest(
        cert, name="tls", namespace="web", data={"tls.crt": b"c", "tls.key": b"k"},
        secret_type="kubernetes.io/tls", labels={"app.kubernetes.io/name": "web"},
    )
    assert manifest["metadata"]["labels"] == {"app.kubernetes.io/name": "web"}
    assert manifest["spec"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/name": "web"}
    assert manifest["spec"]["template"]["type"] == "kubernetes.io/tls"
    # The template is a copy: editing it must not edit the SealedSecret's own metadata.
    manifest["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert "x" not in manifest["metadata"]["labels"]


def test_dump_and_read_sealed_secret(controller: Controller, tmp_path: Path) -> None:
    _, cert = controller
    manifest = sealed_secret_manifest(cert, name="db", namespace="monitoring", data={"a": b"1"})
    path = tmp_path / "db.sealedsecret.yaml"
    path.write_bytes(dump_manifest(manifest, generated_by="test"))
    assert path.read_text().startswith("# Written by `test`")
    assert read_sealed_secret(path) == manifest


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("kind: Secret\napiVersion: v1\n", "kind"),
        ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: x}\n", "metadata.namespace"),
        ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: x, namespace: y}\nspec: {}\n",
         "spec.encryptedData"),
    ],
)
def test_read_sealed_secret_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.sealedsecret.yaml"
    path.write_text(text)
    with pytest.raises(CertError) as err:
        read_sealed_secret(path)
    assert str(err.value).startswith(f"{path}: {field}: ")


def test_fingerprint_is_sha256_of_der(controller: Controller) -> None:
    _, cert = controller
    fp = cert_fingerprint(cert)
    assert fp == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert len(fp) == 64 and fp == fp.lower()


def test_load_sealing_cert_accepts_the_controller_cert(controller: Controller) -> None:
    _, cert = controller
    assert load_sealing_cert(pem(cert), "sealing.pem") == cert


def test_load_sealing_cert_refuses_expired() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=10))
    with pytest.raises(CertError) as err:
        load_sealing_cert(pem(cert), "clusters/demo/old-sealing.pem")
    message = str(err.value)
    assert message.startswith("clusters/demo/old-sealing.pem: notAfter: the sealing certificate expired on ")
    assert "kubeseal --fetch-cert" in message
    assert "\n" not in message


def test_load_sealing_cert_refuses_not_yet_valid() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=20))
    with pytest.raises(CertError, match=r"^future\.pem: notBefore: .*not valid before"):
        load_sealing_cert(pem(cert), "future.pem")


def test_load_sealing_cert_refuses_ecdsa() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
    with pytest.raises(CertError) as err:
        load_sealing_cert(pem(cert), "ec.pem")
    message = str(err.value)
    assert message.startswith("ec.pem: publicKey: ")
    assert "RSA" in message and "kubeseal --fetch-cert" in message


@pytest.mark.parametrize("bits", [512, 1024])
def test_load_sealing_cert_refuses_short_rsa_keys(bits: int) -> None:
    cert = self_signed(weak_rsa_key(bits), not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
    with pytest.raises(CertError) as err:
        load_sealing_cert(pem(cert), "weak.pem")
    message = str(err.value)
    assert message.startswith(f"weak.pem: publicKey: the sealing certificate has a {bits}-bit RSA key; ")
    assert "at least 2048 bits" in message and "kubeseal --fetch-cert" in message


def test_load_sealing_cert_accepts_2048_bits_and_more() -> None:
    for bits in (2048, 3072):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        cert = self_signed(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
        assert load_sealing_cert(pem(cert), "ok.pem") == cert


@pytest.mark.parametrize("count", [2, 3])
def test_load_sealing_cert_refuses_a_bundle(controller: Controller, count: int) -> None:
    _, cert = controller
    others = [self_signed(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                          not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
              for _ in range(count - 1)]
    bundle = b"".join(pem(c) for c in [cert, *others])
    with pytest.raises(CertError) as err:
        load_sealing_cert(bundle, "bundle.pem")
    message = str(err.value)
    assert message.startswith(f"bundle.pem: certificate: holds {count} certificates; ")
    assert "kubeseal --fetch-cert" in message and "\n" not in message


def test_load_sealing_cert_accepts_a_ca_certificate() -> None:
    """The controller's certificate is itself a self-signed CA (sealed-secrets ``SignKey`` sets IsCA):
    refusing CA:TRUE would refuse every real controller."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                          encipher_only=True, decipher_only=False)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    assert load_sealing_cert(pem(cert), "controller.pem") == cert


def test_the_committed_example_controller_cert_is_a_ca_and_is_accepted() -> None:
    path = Path(__file__).resolve().parents[2] / "clusters" / "prod-example" / "sealing-cert.pem"
    cert = load_sealing_cert(path.read_bytes(), str(path))
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.issuer == cert.subject


def test_load_sealing_cert_refuses_garbage() -> None:
    with pytest.raises(CertError, match=r"^junk\.pem: certificate: not a PEM certificate"):
        load_sealing_cert(b"hello", "junk.pem")


def test_seal_value_refuses_a_non_rsa_certificate() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
    with pytest.raises(CertError, match="RSA"):
        seal_value(cert, b"v", "ns", "n", "strict")


def test_sealed_manifest_is_plain_yaml(controller: Controller) -> None:
    _, cert = controller
    manifest = sealed_secret_manifest(cert, name="db", namespace="monitoring", data={"a": b"1" * 5000})
    # Long base64 values survive the YAML round trip unchanged.
    text = dump_manifest(manifest, generated_by="test").decode()
    assert yaml.safe_load(text) == manifest
