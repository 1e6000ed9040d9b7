"""The public record of an issued serving certificate: ``clusters/<name>/certs.yaml``.

Only non-secret facts: fingerprints, validity, names. ``certs issue`` reads it to stay idempotent and
``certs check`` reads it to warn before expiry. The file looks like::

    # Written by `promstack certs issue`: public facts about ... Do not edit by hand.
    version: 1
    secretName: cm-adapter-serving-certs
    namespace: monitoring
    service: prometheus-adapter
    scope: strict
    servingCert:
      sha256: 3f9c...            # SHA-256 of the DER certificate, 64 lowercase hex digits
      notBefore: '2026-11-27T11:46:00Z'
      notAfter: '2027-11-27T11:51:00Z'
      keyType: ecdsa-p256
      dnsNames: [prometheus-adapter, ..., prometheus-adapter.monitoring.svc.cluster.local]
    caCert:
      sha256: 8a01...
      notAfter: '2036-11-25T11:51:00Z'
    sealingCert:
      sha256: c4d2...
      notAfter: '2036-05-01T09:00:00Z'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from promstack.certs import PUBLIC_MODE, CertError, load_yaml, short_repr, write_files_atomically
from promstack.certs.pki import key_type_of
from promstack.certs.sealing import SCOPES, Scope, cert_fingerprint

FACTS_VERSION = 1
_HEADER = (
    "# Written by `promstack certs issue`: public facts about the prometheus-adapter serving certificate.\n"
    "# Do not edit by hand; re-run `promstack certs issue --force` instead.\n"
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FIX = "re-create it with `promstack certs issue --cluster NAME --force`"


def iso_utc(moment: datetime) -> str:
    """``2026-11-27T11:51:00Z``: ISO 8601, UTC, whole seconds (certificates carry no more)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CertFacts:
    """What ``certs issue`` produced for one cluster. All times are timezone-aware UTC."""

    secret_name: str
    namespace: str
    service: str
    scope: Scope
    key_type: str
    dns_names: tuple[str, ...]
    serving_sha256: str
    serving_not_before: datetime
    serving_not_after: datetime
    ca_sha256: str
    ca_not_after: datetime
    sealing_sha256: str
    sealing_not_after: datetime

    @classmethod
    def from_certs(
        cls,
        *,
        serving_cert: x509.Certificate,
        ca_cert: x509.Certificate,
        sealing_cert: x509.Certificate,
        secret_name: str,
        namespace: str,
        service: str,
        scope: Scope,
    ) -> CertFacts:
        """Facts read straight off the certificates, so the record cannot disagree with them."""
        san = serving_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return cls(
            secret_name=secret_name,
            namespace=namespace,
            service=service,
            scope=scope,
            key_type=key_type_of(serving_cert.public_key()),
            dns_names=tuple(san.get_values_for_type(x509.DNSName)),
            serving_sha256=cert_fingerprint(serving_cert),
            serving_not_before=serving_cert.not_valid_before_utc,
            serving_not_after=serving_cert.not_valid_after_utc,
            ca_sha256=cert_fingerprint(ca_cert),
            ca_not_after=ca_cert.not_valid_after_utc,
            sealing_sha256=cert_fingerprint(sealing_cert),
            sealing_not_after=sealing_cert.not_valid_after_utc,
        )

    def days_left(self, now: datetime | None = None) -> int:
        """Whole days until the serving certificate expires (negative once expired); ``now`` defaults
        to the current time."""
        return _days_until(self.serving_not_after, now)

    def to_dict(self) -> dict[str, Any]:
        """The YAML document, field names in camelCase as in Kubernetes."""
        return {
            "version": FACTS_VERSION,
            "secretName": self.secret_name,
            "namespace": self.namespace,
            "service": self.service,
            "scope": self.scope,
            "servingCert": {
                "sha256": self.serving_sha256,
                "notBefore": iso_utc(self.serving_not_before),
                "notAfter": iso_utc(self.serving_not_after),
                "keyType": self.key_type,
                "dnsNames": list(self.dns_names),
            },
            "caCert": {"sha256": self.ca_sha256, "notAfter": iso_utc(self.ca_not_after)},
            "sealingCert": {"sha256": self.sealing_sha256, "notAfter": iso_utc(self.sealing_not_after)},
        }


def _days_until(moment: datetime, now: datetime | None) -> int:
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return int(seconds // 86400)


def dump_facts(facts: CertFacts) -> bytes:
    """The exact bytes of ``certs.yaml``."""
    body: str = yaml.safe_dump(facts.to_dict(), sort_keys=False, default_flow_style=False)
    return (_HEADER + body).encode()


def write_facts(path: Path, facts: CertFacts) -> None:
    """Write ``certs.yaml`` atomically (temp file in the same folder, then rename)."""
    write_files_atomically({path: (dump_facts(facts), PUBLIC_MODE)})


class _Reader:
    """Pulls typed fields out of the parsed document; every failure names the file and field."""

    def __init__(self, doc: dict[str, Any], source: str) -> None:
        self.doc = doc
        self.source = source

    def _raw(self, field: str) -> Any:
        node: Any = self.doc
        for part in field.split("."):
            if not isinstance(node, dict) or part not in node:
                raise CertError(self.source, field, "missing", _FIX)
            node = node[part]
        return node

    def text(self, field: str) -> str:
        value = self._raw(field)
        if not isinstance(value, str) or not value:
            raise CertError(self.source, field, f"expected a non-empty string, got {short_repr(value)}", _FIX)
        return value

    def sha256(self, field: str) -> str:
        value = self.text(field)
        if not _SHA256.match(value):
            raise CertError(self.source, field, f"expected 64 lowercase hex digits, got {short_repr(value)}", _FIX)
        return value

    def time(self, field: str) -> datetime:
        value = self._raw(field)
        if isinstance(value, datetime):  # an unquoted timestamp, e.g. after a hand edit
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError as exc:
                raise CertError(self.source, field, f"expected an ISO 8601 UTC time, got {short_repr(value)}",
                                _FIX) from exc
        if moment.tzinfo is None:  # YAML timestamps without offset are UTC by the YAML spec
            moment = moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+05:00
            raise CertError(self.source, field, f"{short_repr(value)} is out of range", _FIX) from exc

    def names(self, field: str) -> tuple[str, ...]:
        value = self._raw(field)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise CertError(self.source, field, "expected a non-empty list of DNS names", _FIX)
        return tuple(value)


def parse_facts(text: str | bytes, source: str) -> CertFacts:
    """Parse ``certs.yaml`` (text or its bytes); ``CertError`` naming ``source`` and the field on any problem."""
    doc = load_yaml(text, source, _FIX)
    if not isinstance(doc, dict):
        raise CertError(source, "", "expected a YAML mapping", _FIX)
    read = _Reader(doc, source)
    version = read._raw("version")
    if type(version) is not int or version != FACTS_VERSION:  # not `true`, though True == 1
        raise CertError(source, "version",
                        f"unsupported version {short_repr(version)} (this promstack reads {FACTS_VERSION})", _FIX)
    scope = read.text("scope")
    if scope not in SCOPES:
        raise CertError(source, "scope", f"expected one of {', '.join(SCOPES)}, got {short_repr(scope)}", _FIX)
    return CertFacts(
        secret_name=read.text("secretName"),
        namespace=read.text("namespace"),
        service=read.text("service"),
        scope=scope,
        key_type=read.text("servingCert.keyType"),
        dns_names=read.names("servingCert.dnsNames"),
        serving_sha256=read.sha256("servingCert.sha256"),
        serving_not_before=read.time("servingCert.notBefore"),
        serving_not_after=read.time("servingCert.notAfter"),
        ca_sha256=read.sha256("caCert.sha256"),
        ca_not_after=read.time("caCert.notAfter"),
        sealing_sha256=read.sha256("sealingCert.sha256"),
        sealing_not_after=read.time("sealingCert.notAfter"),
    )


def read_facts(path: Path) -> CertFacts:
    """Read ``certs.yaml``; ``CertError`` naming the file (and field) if it is unreadable or malformed."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CertError(str(path), "", f"cannot read ({exc.strerror})", _FIX) from exc
    return parse_facts(content, str(path))
