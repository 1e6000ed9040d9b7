"""promstack.certs.facts: the public certs.yaml record round-trips and malformed files fail clearly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from promstack.certs import CertError
from promstack.certs.facts import CertFacts, dump_facts, parse_facts, read_facts, write_facts
from promstack.certs.pki import issue_serving_cert, new_ca


@pytest.fixture(scope="module")
def facts() -> CertFacts:
    now = datetime.now(UTC)
    ca_cert, ca_key = new_ca("ecdsa-p256")
    serving, _ = issue_serving_cert(ca_cert, ca_key, service="prometheus-adapter", namespace="monitoring")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    sealing = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return CertFacts.from_certs(
        serving_cert=serving, ca_cert=ca_cert, sealing_cert=sealing, secret_name="cm-adapter-serving-certs",
        namespace="monitoring", service="prometheus-adapter", scope="strict",
    )


def test_from_certs(facts: CertFacts) -> None:
    assert facts.key_type == "ecdsa-p256"
    assert facts.dns_names[2] == "prometheus-adapter.monitoring.svc"
    assert len(facts.dns_names) == 4
    assert len(facts.serving_sha256) == 64
    assert 363 <= facts.days_left() <= 365


def test_round_trip(tmp_path: Path, facts: CertFacts) -> None:
    path = tmp_path / "certs.yaml"
    write_facts(path, facts)
    assert read_facts(path) == facts
    assert path.read_bytes() == dump_facts(facts)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_file_format(facts: CertFacts) -> None:
    text = dump_facts(facts).decode()
    assert text.startswith("# Written by `promstack certs issue`")
    doc = yaml.safe_load(text)
    assert list(doc) == ["version", "secretName", "namespace", "service", "scope", "servingCert", "caCert",
                         "sealingCert"]
    # Times stay strings (quoted), ISO 8601 with a Z, so YAML tools do not turn them into timestamps.
    assert isinstance(doc["servingCert"]["notAfter"], str)
    assert doc["servingCert"]["notAfter"].endswith("Z")
    assert doc["caCert"]["sha256"] == facts.ca_sha256
    assert "PRIVATE" not in text


def _broken(facts: CertFacts, field: str, value: object) -> str:
    doc = facts.to_dict()
    node = doc
    *parents, last = field.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return yaml.safe_dump(doc)


_DELETE = object()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("servingCert.notAfter", "next tuesday", "expected an ISO 8601 UTC time"),
        ("servingCert.notAfter", _DELETE, "missing"),
        ("caCert.sha256", "ABC", "expected 64 lowercase hex digits"),
        ("sealingCert.sha256", 12, "expected a non-empty string"),
        ("scope", "galaxy-wide", "expected one of strict, namespace-wide, cluster-wide"),
        ("servingCert.dnsNames", [], "expected a non-empty list of DNS names"),
        ("version", 2, "unsupported version 2"),
        ("namespace", None, "expected a non-empty string"),
    ],
)
def test_malformed_field_names_file_and_field(facts: CertFacts, field: str, value: object, message: str) -> None:
    with pytest.raises(CertError) as err:
        parse_facts(_broken(facts, field, value), "clusters/demo/certs.yaml")
    text = str(err.value)
    assert text.startswith(f"clusters/demo/certs.yaml: {field}: {message}")
    assert text.endswith("re-create it with `promstack certs issue --cluster NAME --force`")


@pytest.mark.parametrize("text", ["[1, 2]", "a: [", ""])
def test_not_a_mapping(text: str) -> None:
    with pytest.raises(CertError, match=r"^certs\.yaml: "):
        parse_facts(text, "certs.yaml")


def test_unquoted_timestamp_is_accepted(facts: CertFacts) -> None:
    # A hand edit that drops the quotes makes YAML parse a datetime; read it as the same instant.
    text = dump_facts(facts).decode().replace(
        f"notAfter: '{facts.to_dict()['servingCert']['notAfter']}'",
        f"notAfter: {facts.to_dict()['servingCert']['notAfter']}",
    )
    assert parse_facts(text, "certs.yaml").serving_not_after == facts.serving_not_after


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CertError, match=r"certs\.yaml: cannot read"):
        read_facts(tmp_path / "certs.yaml")


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"version: 1\nscope: strict\nsecretName: caf\xe9\n", "not UTF-8 text"),
        ("version: 1\nscope: strict\nservingCert:\n  notAfter: 2026-13-45\n",
         "not valid YAML (month must be in 1..12)"),
        ("version: 1\nscope: " + "[" * 5000 + "]" * 5000 + "\n", "not valid YAML (nested too deeply)"),
        ("version: true\n", "version: unsupported version True"),
        ("version: 1\nscope: strict\n" + BILLION_LAUGHS + "secretName: *i\n",
         "secretName: expected a non-empty string"),
    ],
    ids=["latin-1", "impossible-date", "deep-nesting", "version-true", "alias-bomb"],
)
def test_malformed_facts_fail_cleanly(content: str | bytes, message: str) -> None:
    with pytest.raises(CertError) as err:
        parse_facts(content, "certs.yaml")
    text = str(err.value)
    assert text.startswith("certs.yaml: ") and message in text, text
    assert "\n" not in text and len(text) < 300


def test_time_out_of_range_fails_cleanly(facts: CertFacts) -> None:
    text = dump_facts(facts).decode().replace(
        f"notAfter: '{facts.to_dict()['servingCert']['notAfter']}'", "notAfter: '0001-01-01T00:00:00+05:00'"
    )
    with pytest.raises(CertError, match=r"^certs\.yaml: servingCert\.notAfter: .* is out of range"):
        parse_facts(text, "certs.yaml")


def test_read_facts_of_a_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "certs.yaml"
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(CertError, match=r"certs\.yaml: not UTF-8 text \(byte 0\)"):
        read_facts(path)


def test_a_huge_certs_yaml_is_refused_before_it_is_parsed(facts: CertFacts) -> None:
    # Found by test_fuzz: a 10 MB secretName took seconds to parse and was then accepted.
    text = dump_facts(facts).decode().replace("secretName: ", "secretName: " + "x" * (10 * 1024 * 1024), 1)
    with pytest.raises(CertError, match="larger than 4 MiB"):
        parse_facts(text, "certs.yaml")
