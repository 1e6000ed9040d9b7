"""Seal values exactly like ``kubeseal --cert`` (bitnami sealed-secrets ``pkg/crypto``).

Each value becomes::

    base64( u16be(len(rsa_ct)) || rsa_ct || aes_ct )
    rsa_ct = RSA-OAEP(SHA-256, MGF1-SHA-256, label)(32-byte random session key)
    aes_ct = AES-256-GCM(session key, 12-byte zero nonce, no AAD)(value)   # includes the 16-byte tag

The zero nonce is safe because every session key is fresh and used for exactly one value.
The OAEP label binds the ciphertext to where it may be unsealed: ``"<namespace>/<name>"`` (strict),
``"<namespace>"`` (namespace-wide) or empty (cluster-wide). The controller reads the scope from the
SealedSecret's own annotations, so the manifest and the label must agree; ``sealed_secret_manifest``
keeps them together.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from promstack.certs import CertError, load_yaml

Scope = Literal["strict", "namespace-wide", "cluster-wide"]
#: Every scope, strict first (kubeseal's default).
SCOPES: tuple[Scope, ...] = get_args(Scope)

SEALED_SECRET_API_VERSION = "bitnami.com/v1alpha1"
SEALED_SECRET_KIND = "SealedSecret"
NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide"

SESSION_KEY_BYTES = 32  # AES-256
#: Smallest RSA sealing key accepted. Below 2048 bits RSA is breakable or, under 784 bits, too small
#: for OAEP-SHA-256 to wrap a 32-byte session key at all.
MIN_SEALING_RSA_BITS = 2048
_ZERO_NONCE = bytes(12)  # GCM standard nonce size; zero is fine with a single-use key

#: What to tell a user whose sealing certificate we refuse.
FETCH_CERT_FIX = (
    "fetch the current certificate with `kubeseal --fetch-cert > sealing-cert.pem` "
    "(or copy it from the sealed-secrets controller) and pass it with --sealing-cert"
)


def cert_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, as 64 lowercase hex digits (no colons).

    Compare with ``openssl x509 -noout -fingerprint -sha256`` after dropping colons and lowercasing.
    """
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def scope_label(namespace: str, name: str, scope: Scope) -> bytes:
    """The OAEP label for ``scope``: ``ns/name`` (strict), ``ns`` (namespace-wide), empty (cluster-wide)."""
    if scope == "strict":
        return f"{namespace}/{name}".encode()
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "cluster-wide":
        return b""
    raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")


def scope_annotations(scope: Scope) -> dict[str, str]:
    """Annotations that tell the controller which label to use; empty for strict (its default)."""
    if scope == "namespace-wide":
        return {NAMESPACE_WIDE_ANNOTATION: "true"}
    if scope == "cluster-wide":
        return {CLUSTER_WIDE_ANNOTATION: "true"}
    scope_label("", "", scope)  # raises on an unknown scope
    return {}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_sealing_cert(pem_bytes: bytes, source: str, *, now: datetime | None = None) -> x509.Certificate:
    """Parse the sealed-secrets controller's certificate and refuse one that cannot be right.

    Raises ``CertError`` naming ``source`` if it is not PEM, holds more than one certificate (which
    one would be sealed for is a guess; kubeseal silently takes the first), its key is not RSA or
    has fewer than ``MIN_SEALING_RSA_BITS`` bits, or it is expired or not yet valid at ``now``
    (default: the current time).

    A CA certificate is accepted on purpose: the controller's own certificate is a self-signed
    ``CA:TRUE`` certificate (sealed-secrets ``pkg/crypto.SignKey`` sets ``IsCA``).
    """
    now = now or datetime.now(UTC)
    try:
        certs = x509.load_pem_x509_certificates(pem_bytes)
    except ValueError as exc:
        raise CertError(source, "certificate", f"not a PEM certificate ({exc})", FETCH_CERT_FIX) from exc
    if len(certs) != 1:
        raise CertError(
            source,
            "certificate",
            f"holds {len(certs)} certificates; the controller seals with exactly one",
            f"keep only the controller's current certificate in the file: {FETCH_CERT_FIX}",
        )
    cert = certs[0]
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        kind = type(key).__name__.removeprefix("_").replace("PublicKey", "")
        raise CertError(
            source,
            "publicKey",
            f"the sealing certificate has a {kind} key; sealed-secrets only seals with RSA keys",
            FETCH_CERT_FIX,
        )
    if key.key_size < MIN_SEALING_RSA_BITS:
        raise CertError(
            source,
            "publicKey",
            f"the sealing certificate has a {key.key_size}-bit RSA key; at least {MIN_SEALING_RSA_BITS} bits "
            "are required (the controller makes 4096-bit keys)",
            FETCH_CERT_FIX,
        )
    if now > cert.not_valid_after_utc:
        raise CertError(source, "notAfter", f"the sealing certificate expired on {_iso(cert.not_valid_after_utc)}",
                        FETCH_CERT_FIX)
    if now < cert.not_valid_before_utc:
        raise CertError(source, "notBefore",
                        f"the sealing certificate is not valid before {_iso(cert.not_valid_before_utc)}",
                        f"check this machine's clock, or {FETCH_CERT_FIX}")
    return cert


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """Raw sealed-secrets ciphertext (before base64): ``u16be(len) || RSA-OAEP(key) || AES-GCM(value)``."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    rsa_ct = public_key.encrypt(session_key, _oaep(label))
    aes_ct = AESGCM(session_key).encrypt(_ZERO_NONCE, plaintext, None)
    return struct.pack(">H", len(rsa_ct)) + rsa_ct + aes_ct


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """Inverse of ``hybrid_encrypt``; raises ``CertError`` on a wrong key, wrong label or tampering."""
    if len(ciphertext) < 2:
        raise CertError("sealed value", "", "too short to be a sealed value")
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    rsa_ct, aes_ct = ciphertext[2 : 2 + rsa_len], ciphertext[2 + rsa_len :]
    if len(rsa_ct) != rsa_len:
        raise CertError("sealed value", "", "truncated RSA block")
    try:
        session_key = private_key.decrypt(rsa_ct, _oaep(label))
        plaintext: bytes = AESGCM(session_key).decrypt(_ZERO_NONCE, aes_ct, None)
        return plaintext
    except (ValueError, InvalidTag) as exc:
        # One message for all causes, like the controller: do not help an attacker tell them apart.
        raise CertError(
            "sealed value", "", "decryption failed (wrong key, wrong scope label or tampered data)"
        ) from exc


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def _rsa_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertError("sealing certificate", "publicKey", "not an RSA key", FETCH_CERT_FIX)
    return key


def seal_value(cert: x509.Certificate, value: bytes, namespace: str, name: str, scope: Scope) -> str:
    """Seal one Secret value for ``namespace``/``name`` under ``scope``; returns the base64 text for
    ``spec.encryptedData``. Use a certificate from ``load_sealing_cert`` (it checks validity)."""
    ciphertext = hybrid_encrypt(_rsa_public_key(cert), value, scope_label(namespace, name, scope))
    return base64.b64encode(ciphertext).decode("ascii")


#: Bytes AES-GCM adds to a value (its tag).
_GCM_TAG_BYTES = 16


def sealed_value_length(sealed_b64: str) -> int | None:
    """How many bytes the sealed value holds, read from the ciphertext's size (AES-GCM does not hide a
    length); None when ``sealed_b64`` is no sealed value. Lets synth refuse an empty password unsealed."""
    try:
        ciphertext = base64.b64decode(sealed_b64, validate=True)
    except ValueError:
        return None
    if len(ciphertext) < 2:
        return None
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    length = len(ciphertext) - 2 - rsa_len - _GCM_TAG_BYTES
    return length if length >= 0 else None


def unseal_value(private_key: rsa.RSAPrivateKey, sealed_b64: str, label: bytes) -> bytes:
    """Decrypt one ``encryptedData`` value with the controller's private key (tests and debugging).

    Harmless to ship: it needs the private key, which never leaves the cluster in normal use.
    """
    try:
        ciphertext = base64.b64decode(sealed_b64, validate=True)
    except ValueError as exc:
        raise CertError("sealed value", "", f"not base64 ({exc})") from exc
    return hybrid_decrypt(private_key, ciphertext, label)


def sealed_secret_manifest(
    cert: x509.Certificate,
    *,
    name: str,
    namespace: str,
    data: dict[str, bytes],
    scope: Scope = "strict",
    secret_type: str = "Opaque",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``bitnami.com/v1alpha1`` SealedSecret for Secret ``namespace/name`` with every value sealed.

    Defaults: ``scope="strict"``, ``secret_type="Opaque"``, no labels. The scope annotation (none
    for strict) goes on the SealedSecret, where the controller reads it, and on the template, as
    kubeseal does. ``encryptedData`` keys are sorted so diffs stay stable.
    """
    annotations = scope_annotations(scope)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": SEALED_SECRET_API_VERSION,
        "kind": SEALED_SECRET_KIND,
        "metadata": metadata,
        "spec": {
            "encryptedData": {
                key: seal_value(cert, data[key], namespace, name, scope) for key in sorted(data)
            },
            "template": {
                "metadata": copy.deepcopy(metadata),
                "type": secret_type,
            },
        },
    }


def dump_manifest(manifest: dict[str, Any], *, generated_by: str) -> bytes:
    """YAML text for a SealedSecret file, with a one-line header saying what wrote it."""
    header = f"# Written by `{generated_by}`. Sealed: safe to commit; only the cluster's controller can decrypt.\n"
    body: str = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
    return (header + body).encode()


_SEALED_FIX = "re-create it with `promstack seal` or `promstack certs issue --force`"


def read_sealed_secret(path: Path) -> dict[str, Any]:
    """Load and sanity-check a ``*.sealedsecret.yaml`` file for synth; returns the manifest dict.

    Raises ``CertError`` naming the file and field if it is not a SealedSecret with a name,
    a namespace and a non-empty ``spec.encryptedData``.
    """
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CertError(str(path), "", f"cannot read ({exc.strerror})", _SEALED_FIX) from exc
    return parse_sealed_secret(content, str(path))


def parse_sealed_secret(content: bytes, source: str) -> dict[str, Any]:
    """``read_sealed_secret`` for bytes already read; ``source`` names them in errors."""
    fix = _SEALED_FIX
    doc = load_yaml(content, source, fix)
    if not isinstance(doc, dict):
        raise CertError(source, "", "not a YAML mapping", fix)
    if doc.get("apiVersion") != SEALED_SECRET_API_VERSION or doc.get("kind") != SEALED_SECRET_KIND:
        raise CertError(source, "kind", f"expected {SEALED_SECRET_API_VERSION} {SEALED_SECRET_KIND}", fix)
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise CertError(source, "metadata", "missing", fix)
    for field in ("name", "namespace"):
        if not isinstance(metadata.get(field), str) or not metadata[field]:
            raise CertError(source, f"metadata.{field}", "missing or not a string", fix)
    spec = doc.get("spec")
    encrypted = spec.get("encryptedData") if isinstance(spec, dict) else None
    if not isinstance(encrypted, dict) or not encrypted:
        raise CertError(source, "spec.encryptedData", "missing or empty", fix)
    return doc
