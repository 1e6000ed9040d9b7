"""promstack.certs.cli.plan_issue: what `certs issue` writes, decided without touching the filesystem."""

from __future__ import annotations

import builtins
import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from promstack.certs import CertError
from promstack.certs.cli import IssuePlan, IssueRequest, plan_issue

NOW = datetime.now(UTC)
FILES = ["adapter-serving-certs.sealedsecret.yaml", "adapter-ca.crt", "sealing-cert.pem", "certs.yaml"]


@pytest.fixture(scope="module")
def sealing_cert() -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650)).sign(key, hashes.SHA256())
    )


def request(sealing_cert: x509.Certificate, **changes: Any) -> IssueRequest:
    base = IssueRequest(cluster="demo", namespace="monitoring", sealing_cert=sealing_cert, now=NOW,
                        shown_folder="clusters/demo")
    return dataclasses.replace(base, **changes)


@pytest.fixture
def no_filesystem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open, create, rename or remove a file fails the test."""

    def forbidden(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"plan_issue touched the filesystem: {args!r}")

    for module, name in [(builtins, "open"), (os, "open"), (os, "replace"), (os, "rename"), (os, "link"),
                         (os, "mkdir"), (os, "unlink"), (os, "stat"), (os, "lstat"), (os, "listdir")]:
        monkeypatch.setattr(module, name, forbidden)


def test_first_issue_plans_the_four_files_in_order(sealing_cert: x509.Certificate, no_filesystem: None) -> None:
    plan = plan_issue(request(sealing_cert))
    assert list(plan.files) == FILES  # certs.yaml last: it vouches for the others
    assert plan.ca_files == {}
    assert all(b"PRIVATE KEY" not in content for content in plan.files.values())
    assert plan.lines[0].startswith("issued serving certificate for prometheus-adapter, ")
    assert "  wrote clusters/demo/certs.yaml (public facts)" in plan.lines
    assert plan.lines[-1].startswith("  the CA private key was discarded")


def test_a_kept_ca_is_planned_for_ca_out_and_hidden_from_repr(
    sealing_cert: x509.Certificate, no_filesystem: None
) -> None:
    plan = plan_issue(request(sealing_cert, ca_out=Path("/safe/ca")))
    assert list(plan.ca_files) == ["demo-adapter-ca.key", "demo-adapter-ca.crt"]
    assert b"PRIVATE KEY" in plan.ca_files["demo-adapter-ca.key"]
    assert plan.ca_files["demo-adapter-ca.crt"] == plan.files["adapter-ca.crt"]
    assert "PRIVATE KEY" not in repr(plan)
    assert plan.lines[-1] == ("  wrote /safe/ca/demo-adapter-ca.crt and /safe/ca/demo-adapter-ca.key "
                              "(CA private key: keep it safe, never commit it)")


def test_replanning_over_its_own_output_changes_nothing(sealing_cert: x509.Certificate, no_filesystem: None) -> None:
    first = plan_issue(request(sealing_cert))
    again = plan_issue(request(sealing_cert, existing=dict(first.files)))
    assert not again.changes_files and again.files == {}
    assert len(again.lines) == 1 and again.lines[0].startswith("certs for cluster demo are up to date: ")
    forced = plan_issue(request(sealing_cert, existing=dict(first.files), force=True))
    assert list(forced.files) == FILES and forced.files["certs.yaml"] != first.files["certs.yaml"]


def test_a_changed_request_says_why_first(sealing_cert: x509.Certificate, no_filesystem: None) -> None:
    first = plan_issue(request(sealing_cert))
    plan = plan_issue(request(sealing_cert, existing=dict(first.files), scope="cluster-wide"))
    assert plan.lines[0] == "re-issuing certs for cluster demo: the scope changes from strict to cluster-wide"
    assert list(plan.files) == FILES


def test_malformed_recorded_facts_need_force(sealing_cert: x509.Certificate, no_filesystem: None) -> None:
    existing = {"certs.yaml": b"version: 1\n"}
    with pytest.raises(CertError, match=r"^clusters/demo/certs\.yaml: "):
        plan_issue(request(sealing_cert, existing=existing))
    assert list(plan_issue(request(sealing_cert, existing=existing, force=True)).files) == FILES


def test_the_plan_is_immutable(sealing_cert: x509.Certificate) -> None:
    plan = plan_issue(request(sealing_cert))
    assert isinstance(plan, IssuePlan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.files = {}  # type: ignore[misc]  # frozen: the assignment must fail
    with pytest.raises(TypeError):
        plan.files["certs.yaml"] = b""  # type: ignore[index]  # read-only: the assignment must fail
