"""promstack certs issue/check and promstack seal, end to end in a throwaway repository."""

from __future__ import annotations

import argparse
import inspect
import io
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from certs_testkeys import weak_rsa_key
from promstack.certs import CertError
from promstack.certs.cli import register
from promstack.certs.facts import read_facts
from promstack.certs.pki import PrivateKey, new_ca
from promstack.certs.sealing import cert_fingerprint, scope_label, unseal_value

NOW = datetime.now(UTC)
#: The sealed-secrets controller's key pair.
Controller = tuple[rsa.RSAPrivateKey, x509.Certificate]
SECRET = "cm-adapter-serving-certs"
STRICT_LABEL = f"monitoring/{SECRET}".encode()
ISSUED_FILES = ["adapter-ca.crt", "adapter-serving-certs.sealedsecret.yaml", "certs.yaml", "cluster.yaml",
                "sealing-cert.pem"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promstack")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def run(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def controller_cert(key: PrivateKey, *, not_before: datetime, not_after: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def controller() -> Controller:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, controller_cert(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=3650))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake repository (a .git folder is enough) with clusters demo and other; cwd is its root."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "clusters" / "demo").mkdir(parents=True)
    (root / "clusters" / "demo" / "cluster.yaml").write_text("namespace: monitoring\n")
    (root / "clusters" / "other").mkdir()
    (root / "clusters" / "other" / "cluster.yaml").write_text("")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def sealing_pem(tmp_path: Path, controller: Controller) -> Path:
    """The controller's certificate, fetched to a file outside the repository."""
    path = tmp_path / "sealing.pem"
    path.write_bytes(pem(controller[1]))
    return path


def demo(repo: Path) -> Path:
    return repo / "clusters" / "demo"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def unseal_serving(repo: Path, key: rsa.RSAPrivateKey, label: bytes = STRICT_LABEL) -> tuple[x509.Certificate, bytes]:
    manifest = yaml.safe_load((demo(repo) / "adapter-serving-certs.sealedsecret.yaml").read_text())
    data = manifest["spec"]["encryptedData"]
    cert = x509.load_pem_x509_certificate(unseal_value(key, data["serving.crt"], label))
    return cert, unseal_value(key, data["serving.key"], label)


def public_der(obj: x509.Certificate | PrivateKeyTypes) -> bytes:
    return obj.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------- certs issue


def test_issue_writes_the_four_files(
    repo: Path, sealing_pem: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    key, sealing = controller
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in demo(repo).iterdir()) == ISSUED_FILES
    for name in ISSUED_FILES[:3] + ISSUED_FILES[4:]:
        assert f"clusters/demo/{name}" in out
    assert "CA private key was discarded" in out

    manifest = yaml.safe_load((demo(repo) / "adapter-serving-certs.sealedsecret.yaml").read_text())
    assert manifest["apiVersion"] == "bitnami.com/v1alpha1" and manifest["kind"] == "SealedSecret"
    assert manifest["metadata"] == {"name": SECRET, "namespace": "monitoring"}
    assert manifest["spec"]["template"] == {"metadata": {"name": SECRET, "namespace": "monitoring"}, "type": "Opaque"}
    assert sorted(manifest["spec"]["encryptedData"]) == ["serving.crt", "serving.key"]

    # The sealed serving cert chains to the committed CA bundle and pairs with the sealed key.
    ca = x509.load_pem_x509_certificate((demo(repo) / "adapter-ca.crt").read_bytes())
    serving, serving_key_pem = unseal_serving(repo, key)
    serving.verify_directly_issued_by(ca)
    assert public_der(serialization.load_pem_private_key(serving_key_pem, password=None)) == public_der(serving)
    assert serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)[2] == "prometheus-adapter.monitoring.svc"

    facts = read_facts(demo(repo) / "certs.yaml")
    assert facts.serving_sha256 == cert_fingerprint(serving)
    assert facts.ca_sha256 == cert_fingerprint(ca)
    assert facts.sealing_sha256 == cert_fingerprint(sealing)
    assert (demo(repo) / "sealing-cert.pem").read_bytes() == pem(sealing)
    assert facts.scope == "strict" and facts.key_type == "ecdsa-p256" and facts.namespace == "monitoring"


def test_nothing_private_inside_the_repository(repo: Path, sealing_pem: Path, tmp_path: Path) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    assert run("certs", "issue", "--cluster", "other", "--sealing-cert", str(sealing_pem),
               "--key-type", "rsa-2048", "--ca-out", str(tmp_path / "ca")) == 0
    assert run("seal", "--cluster", "demo", "--name", "db", "--from-literal", "password=hunter2") == 0
    for path in repo.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"PRIVATE KEY" not in content, path
            assert b"hunter2" not in content, path
    assert b"PRIVATE KEY" in (tmp_path / "ca" / "other-adapter-ca.key").read_bytes()


def test_reissue_is_a_no_op_without_force(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    before = snapshot(repo)
    capsys.readouterr()
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    assert snapshot(repo) == before
    assert "up to date" in capsys.readouterr().out

    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--force") == 0
    after = snapshot(repo)
    for name in ("adapter-serving-certs.sealedsecret.yaml", "certs.yaml", "adapter-ca.crt"):
        assert after[f"clusters/demo/{name}"][0] != before[f"clusters/demo/{name}"][0], name
    assert after["clusters/demo/sealing-cert.pem"][0] == before["clusters/demo/sealing-cert.pem"][0]


def test_reissue_when_the_request_changes(
    repo: Path, sealing_pem: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = controller
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    assert run("certs", "issue", "--cluster", "demo", "--scope", "namespace-wide") == 0
    assert "the scope changes from strict to namespace-wide" in capsys.readouterr().out
    manifest = yaml.safe_load((demo(repo) / "adapter-serving-certs.sealedsecret.yaml").read_text())
    assert manifest["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    unseal_serving(repo, key, label=b"monitoring")
    # A bare re-run keeps the recorded scope (and defaults --sealing-cert to the stored copy).
    before = snapshot(repo)
    assert run("certs", "issue", "--cluster", "demo") == 0
    assert snapshot(repo) == before
    # A namespace change in cluster.yaml makes the old certificate wrong: re-issue.
    (demo(repo) / "cluster.yaml").write_text("namespace: metrics\n")
    assert run("certs", "issue", "--cluster", "demo") == 0
    assert read_facts(demo(repo) / "certs.yaml").dns_names[1] == "prometheus-adapter.metrics"


def test_reissue_within_the_renewal_window(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--days", "10") == 0
    before = snapshot(repo)
    assert run("certs", "issue", "--cluster", "demo") == 0
    assert "renewal window 30" in capsys.readouterr().out
    assert snapshot(repo) != before


def test_sealing_cert_from_stdin(repo: Path, controller: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem(controller[1]))))
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", "-") == 0
    assert (demo(repo) / "sealing-cert.pem").read_bytes() == pem(controller[1])


def test_ca_out_inside_the_repository_is_refused(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--ca-out", "secrets/ca")
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("promstack: error: --ca-out: ") and "inside the git repository" in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]
    assert not (repo / "secrets").exists()


@pytest.mark.parametrize("target", ["file", "/dev/null", "below-a-file"])
def test_ca_out_that_is_not_a_folder_is_refused(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("not a folder\n")
    ca_out = {"file": str(existing), "/dev/null": "/dev/null", "below-a-file": str(existing / "ca")}[target]
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--ca-out", ca_out) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"promstack: error: --ca-out: {ca_out} ") and "not a folder" in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]
    assert existing.read_text() == "not a folder\n"


def test_ca_out_through_a_symlink_into_the_repository_is_refused(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "keys").mkdir()
    link = tmp_path / "looks-outside"
    link.symlink_to(repo / "keys")
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--ca-out", str(link)) == 2
    assert f"{repo / 'keys'} is inside the git repository {repo}" in capsys.readouterr().err
    assert list((repo / "keys").iterdir()) == []


def test_ca_out_is_checked_against_the_clusters_repository_from_anywhere(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not a repository; --clusters-dir points into one
    assert run("certs", "issue", "--cluster", "demo", "--clusters-dir", str(repo / "clusters"),
               "--sealing-cert", str(sealing_pem), "--ca-out", str(repo / "ca")) == 2
    assert f"is inside the git repository {repo}" in capsys.readouterr().err
    assert not (repo / "ca").exists()


def test_ca_out_inside_the_working_directory_repository_is_refused(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from one checkout against a clusters folder in another: neither may receive the CA key."""
    gitops = tmp_path / "gitops"
    (gitops / ".git").mkdir(parents=True)
    (gitops / "clusters" / "prod").mkdir(parents=True)
    (gitops / "clusters" / "prod" / "cluster.yaml").write_text("{}\n")
    assert run("certs", "issue", "--cluster", "prod", "--clusters-dir", str(gitops / "clusters"),
               "--sealing-cert", str(sealing_pem), "--ca-out", "ca") == 2  # relative: inside the cwd's repo
    assert f"{repo / 'ca'} is inside the git repository {repo}" in capsys.readouterr().err
    assert not (repo / "ca").exists() and sorted(p.name for p in (gitops / "clusters" / "prod").iterdir()) == [
        "cluster.yaml"]


def test_ca_out_keeps_the_ca_for_renewals(
    repo: Path, sealing_pem: Path, tmp_path: Path, controller: Controller
) -> None:
    ca_dir = tmp_path / "ca"
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--ca-out", str(ca_dir)) == 0
    ca_key, ca_crt = ca_dir / "demo-adapter-ca.key", ca_dir / "demo-adapter-ca.crt"
    assert ca_key.stat().st_mode & 0o777 == 0o600
    assert ca_crt.read_bytes() == (demo(repo) / "adapter-ca.crt").read_bytes()
    bundle = (demo(repo) / "adapter-ca.crt").read_bytes()

    # The same CA, given back: nothing to do; forced: a new serving cert, same CA bundle.
    before = snapshot(repo)
    ca_args = ("--ca-cert", str(ca_crt), "--ca-key", str(ca_key))
    assert run("certs", "issue", "--cluster", "demo", *ca_args) == 0
    assert snapshot(repo) == before
    assert run("certs", "issue", "--cluster", "demo", *ca_args, "--force") == 0
    assert (demo(repo) / "adapter-ca.crt").read_bytes() == bundle
    serving, _ = unseal_serving(repo, controller[0])
    serving.verify_directly_issued_by(x509.load_pem_x509_certificate(bundle))

    # Never overwrite a CA key.
    assert run("certs", "issue", "--cluster", "demo", "--force", "--ca-out", str(ca_dir)) == 2


@pytest.mark.parametrize(
    ("make_cert", "field"),
    [
        (lambda: controller_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                 not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1)), "notAfter"),
        (lambda: controller_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                 not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=400)), "notBefore"),
        (lambda: controller_cert(ec.generate_private_key(ec.SECP256R1()),
                                 not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=400)), "publicKey"),
        (lambda: controller_cert(rsa.generate_private_key(public_exponent=65537, key_size=1024),
                                 not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=400)), "publicKey"),
    ],
    ids=["expired", "not-yet-valid", "ecdsa", "rsa-1024"],
)
def test_issue_refuses_a_bad_sealing_cert(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_cert: Callable[[], x509.Certificate],
    field: str
) -> None:
    bad = tmp_path / "bad-sealing.pem"
    bad.write_bytes(pem(make_cert()))
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"promstack: error: {bad}: {field}: ")
    assert "kubeseal --fetch-cert" in err and err.count("\n") == 1
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_rsa_512_fails_before_anything_is_printed_or_written(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A changed sealing cert means re-issue; a 512-bit one must stop the run before that is announced
    (OAEP-SHA-256 cannot even wrap a session key with it: the old code died with a traceback)."""
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    before = snapshot(repo)
    capsys.readouterr()
    weak = tmp_path / "weak.pem"
    weak.write_bytes(pem(controller_cert(weak_rsa_key(512), not_before=NOW - timedelta(days=1),
                                         not_after=NOW + timedelta(days=400))))
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(weak)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"promstack: error: {weak}: publicKey: the sealing certificate has a 512-bit RSA key; "
                            "at least 2048 bits are required (the controller makes 4096-bit keys); "
                            "fetch the current certificate with `kubeseal --fetch-cert > sealing-cert.pem` "
                            "(or copy it from the sealed-secrets controller) and pass it with --sealing-cert\n")
    assert snapshot(repo) == before
    # seal refuses it the same way.
    assert run("seal", "--cluster", "demo", "--name", "x", "--sealing-cert", str(weak), "--from-literal", "k=v") == 2
    assert "512-bit RSA key" in capsys.readouterr().err
    assert snapshot(repo) == before


def test_issue_refuses_a_pem_bundle(
    repo: Path, sealing_pem: Path, controller: Controller, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = controller_cert(other_key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=400))
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(controller[1]) + pem(other))
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(bundle)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"promstack: error: {bundle}: certificate: holds 2 certificates; ")
    assert captured.err.count("\n") == 1
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("3000000", "argument --days: must be between 1 and 3650, got 3000000"),
        ("3651", "argument --days: must be between 1 and 3650, got 3651"),
        ("0", "argument --days: must be between 1 and 3650, got 0"),
        ("9" * 5000, "argument --days: expected a whole number, got '999"),
        ("ten", "argument --days: expected a whole number, got 'ten'"),
    ],
    ids=["3000000", "3651", "0", "5000-digits", "word"],
)
def test_issue_days_out_of_range_is_a_usage_error(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], days: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--days", days)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    error_line = err.splitlines()[-1]  # after argparse's usage line
    assert error_line.startswith("promstack certs issue: error: ") and len(error_line) < 160
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_issue_days_at_the_limit(repo: Path, sealing_pem: Path) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--days", "3650") == 0
    facts = read_facts(demo(repo) / "certs.yaml")
    assert (facts.serving_not_after - facts.serving_not_before).days == 3650  # notBefore is 5 minutes early
    assert facts.serving_not_after <= facts.ca_not_after


def test_min_days_not_a_number_is_not_echoed_in_full(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("certs", "check", "--min-days", "x" * 5000)
    error_line = capsys.readouterr().err.splitlines()[-1]
    assert "argument --min-days: expected a whole number" in error_line and "x" * 100 not in error_line


@pytest.mark.parametrize("flag", ["--sealing-cert", "--ca-key"])
def test_issue_reads_a_pem_argument_only_up_to_1_mib(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """/dev/zero (a typo, a wrong variable) used to be read until memory ran out."""
    ca_cert, _ = new_ca("ecdsa-p256")
    ca_pem = tmp_path / "ca.crt"
    ca_pem.write_bytes(pem(ca_cert))
    args = {"--sealing-cert": ("--sealing-cert", "/dev/zero"),
            "--ca-key": ("--sealing-cert", str(sealing_pem), "--ca-cert", str(ca_pem), "--ca-key", "/dev/zero")}[flag]
    assert run("certs", "issue", "--cluster", "demo", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("promstack: error: /dev/zero: is larger than 1048576 bytes; ") and err.count("\n") == 1
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_issue_reads_the_sealing_cert_from_a_pipe(repo: Path, controller: Controller, tmp_path: Path) -> None:
    """What `--sealing-cert <(kubeseal --fetch-cert)` passes: a pipe, not a regular file."""
    read_end, write_end = os.pipe()
    os.write(write_end, pem(controller[1]))
    os.close(write_end)
    try:
        assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", f"/dev/fd/{read_end}") == 0
    finally:
        os.close(read_end)
    assert (demo(repo) / "sealing-cert.pem").read_bytes() == pem(controller[1])


def test_issue_without_any_sealing_cert(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo") == 2
    assert "clusters/demo/sealing-cert.pem: no sealing certificate recorded" in capsys.readouterr().err


def test_issue_reports_config_errors(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (demo(repo) / "cluster.yaml").write_text("namespace: Not_Valid\n")
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 2
    err = capsys.readouterr().err
    assert err.startswith("promstack: error: ") and "cluster.yaml: namespace: " in err


def test_unknown_cluster(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "nope", "--sealing-cert", str(sealing_pem)) == 2
    assert "clusters/nope: no such cluster folder; pick one of: demo, other" in capsys.readouterr().err


def test_malformed_facts_need_force(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    (demo(repo) / "certs.yaml").write_text("version: 1\nscope: strict\n")
    assert run("certs", "issue", "--cluster", "demo") == 2
    assert "certs.yaml: secretName: missing" in capsys.readouterr().err
    assert run("certs", "issue", "--cluster", "demo", "--force") == 0
    read_facts(demo(repo) / "certs.yaml")


@pytest.mark.parametrize(
    "content",
    [b"version: 1\nsecretName: \xff\xfe\n", b"version: 1\nscope: strict\ncaCert: {notAfter: 2026-02-30}\n"],
    ids=["not-utf8", "impossible-date"],
)
def test_malformed_facts_are_a_clean_error_for_issue_and_check(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    (demo(repo) / "certs.yaml").write_bytes(content)
    before = snapshot(repo)
    capsys.readouterr()
    assert run("certs", "issue", "--cluster", "demo") == 2
    err = capsys.readouterr().err
    assert err.startswith("promstack: error: clusters/demo/certs.yaml: ") and err.count("\n") == 1
    assert snapshot(repo) == before
    assert run("certs", "check") == 1
    captured = capsys.readouterr()
    assert "demo: certs.yaml unreadable: FAILED" in captured.out
    assert captured.err.startswith("promstack: error: clusters/demo/certs.yaml: ") and captured.err.count("\n") == 1
    assert run("certs", "issue", "--cluster", "demo", "--force") == 0  # --force replaces it, as before


def test_a_non_utf8_sealed_secret_is_reported_not_a_traceback(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    (demo(repo) / "adapter-serving-certs.sealedsecret.yaml").write_bytes(b"kind: \xff\n")
    assert run("certs", "check") == 1
    assert "adapter-serving-certs.sealedsecret.yaml: not UTF-8 text (byte 6)" in capsys.readouterr().err
    assert run("certs", "issue", "--cluster", "demo") == 0  # a broken file is a reason to re-issue
    assert "re-issuing certs for cluster demo: clusters/demo/adapter-serving-certs.sealedsecret.yaml: not UTF-8" in \
        capsys.readouterr().out


def test_a_failed_write_leaves_nothing_half_written(
    repo: Path, sealing_pem: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    before = snapshot(repo)
    capsys.readouterr()
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the third of four staged files
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr("promstack.certs.os.fsync", failing_fsync)
    assert run("certs", "issue", "--cluster", "demo", "--force") == 2
    captured = capsys.readouterr()
    assert captured.err == ("promstack: error: clusters/demo/sealing-cert.pem: cannot write (No space left on device); "
                            "no file was changed; check that the folder exists, is writable and has free space, "
                            "then re-run\n")
    assert captured.out == ""  # not even "re-issuing": the summary is printed once the files are written
    assert snapshot(repo) == before  # every old file intact, no temporary file left


def test_a_failed_rename_puts_back_the_files_already_replaced(
    repo: Path, sealing_pem: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staging succeeded, the third of four renames fails: the first two must be rolled back."""
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    before = snapshot(repo)
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr("promstack.certs.os.replace", failing_replace)
    assert run("certs", "issue", "--cluster", "demo", "--force") == 2
    assert "clusters/demo/sealing-cert.pem: cannot write (Input/output error); no file was changed" in \
        capsys.readouterr().err
    assert snapshot(repo) == before  # same bytes and mtimes, no backup or temporary left


def test_a_failed_first_issue_leaves_no_new_file_or_folder(
    repo: Path, sealing_pem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # CA key and CA cert in --ca-out, the SealedSecret, then fail
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("promstack.certs.os.replace", failing_replace)
    ca_dir = tmp_path / "new" / "ca"
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem),
               "--ca-out", str(ca_dir)) == 2
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- certs check


def test_check_passes_and_skips_clusters_without_certs(
    repo: Path, sealing_pem: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    capsys.readouterr()
    assert run("certs", "check") == 0
    out = capsys.readouterr().out
    assert "demo: serving cert notAfter " in out and "days left" in out and ": ok" in out
    assert cert_fingerprint(controller[1]) in out
    assert "other: no certs.yaml, skipped" in out


def test_check_fails_within_min_days(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--days", "10") == 0
    capsys.readouterr()
    assert run("certs", "check", "--min-days", "30") == 1
    captured = capsys.readouterr()
    assert "demo: " in captured.out and "FAILED" in captured.out
    assert "certs.yaml: servingCert.notAfter: the serving certificate expires in 9 days (minimum 30)" in captured.err
    assert run("certs", "check", "--min-days", "5") == 0


def test_check_fails_on_a_tampered_ca_bundle(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    other_ca, _ = new_ca("ecdsa-p256")
    (demo(repo) / "adapter-ca.crt").write_bytes(pem(other_ca))
    capsys.readouterr()
    assert run("certs", "check", "--cluster", "demo") == 1
    err = capsys.readouterr().err
    assert "promstack: error: clusters/demo/adapter-ca.crt: sha256: " in err
    assert "does not match caCert.sha256" in err


def test_check_fails_on_another_sealing_cert(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = controller_cert(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30))
    (demo(repo) / "sealing-cert.pem").write_bytes(pem(other))
    assert run("certs", "check") == 1
    assert "clusters/demo/sealing-cert.pem: sha256: " in capsys.readouterr().err


def test_check_fails_on_an_expired_sealing_cert(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expired = controller_cert(key, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=1))
    (demo(repo) / "sealing-cert.pem").write_bytes(pem(expired))
    assert run("certs", "check") == 1
    assert "clusters/demo/sealing-cert.pem: notAfter: the sealing certificate expired" in capsys.readouterr().err


def test_check_fails_on_a_changed_scope_annotation(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    path = demo(repo) / "adapter-serving-certs.sealedsecret.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    path.write_text(yaml.safe_dump(manifest))
    assert run("certs", "check") == 1
    assert "adapter-serving-certs.sealedsecret.yaml: metadata.annotations: " in capsys.readouterr().err


def test_check_fails_when_the_namespace_changed(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    (demo(repo) / "cluster.yaml").write_text("namespace: metrics\n")
    assert run("certs", "check") == 1
    assert "certs.yaml: namespace: certificates were issued for namespace monitoring" in capsys.readouterr().err


def test_check_named_cluster_without_certs_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("certs", "check", "--cluster", "other") == 1
    assert "clusters/other/certs.yaml: missing; run `promstack certs issue" in capsys.readouterr().err


# --------------------------------------------------------------------------- seal


def test_seal_from_literal_round_trips(
    repo: Path, sealing_pem: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = controller
    rc = run("seal", "--cluster", "demo", "--name", "db-creds", "--sealing-cert", str(sealing_pem),
             "--from-literal", "password=s3cr3t", "--from-literal", "user=admin=root")
    assert rc == 0
    captured = capsys.readouterr()
    assert "shell history" in captured.err and "s3cr3t" not in captured.err + captured.out
    out = demo(repo) / "db-creds.sealedsecret.yaml"
    assert f"wrote clusters/demo/{out.name}" in captured.out
    manifest = yaml.safe_load(out.read_text())
    assert manifest["metadata"] == {"name": "db-creds", "namespace": "monitoring"}
    data = manifest["spec"]["encryptedData"]
    label = scope_label("monitoring", "db-creds", "strict")
    assert {k: unseal_value(key, v, label) for k, v in data.items()} == {"password": b"s3cr3t", "user": b"admin=root"}


def test_seal_from_file_with_scope_and_stored_cert(
    repo: Path, sealing_pem: Path, controller: Controller, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = controller
    assert run("certs", "issue", "--cluster", "demo", "--sealing-cert", str(sealing_pem)) == 0
    token = tmp_path / "token.txt"
    token.write_bytes(b"\x00binary\xff")
    assert run("seal", "--cluster", "demo", "--name", "api", "--from-file", str(token),
               "--from-file", f"renamed={token}", "--scope", "cluster-wide", "--type", "example.com/token") == 0
    assert "warning" not in capsys.readouterr().err
    manifest = yaml.safe_load((demo(repo) / "api.sealedsecret.yaml").read_text())
    assert manifest["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    assert manifest["spec"]["template"]["type"] == "example.com/token"
    data = manifest["spec"]["encryptedData"]
    assert sorted(data) == ["renamed", "token.txt"]
    assert unseal_value(key, data["token.txt"], b"") == b"\x00binary\xff"


def test_seal_sealing_cert_from_stdin(repo: Path, controller: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem(controller[1]))))
    assert run("seal", "--cluster", "demo", "--name", "x", "--sealing-cert", "-", "--from-literal", "k=v") == 0
    manifest = yaml.safe_load((demo(repo) / "x.sealedsecret.yaml").read_text())
    assert unseal_value(controller[0], manifest["spec"]["encryptedData"]["k"], b"monitoring/x") == b"v"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", SECRET, "--from-literal", "a=b"), "is managed by `promstack certs issue`"),
        (("--name", "adapter-serving-certs", "--from-literal", "a=b"), "is managed by `promstack certs issue`"),
        (("--name", "Bad_Name", "--from-literal", "a=b"), "not a valid Secret name"),
        (("--name", "x", "--from-literal", "novalue"), "expected KEY=VALUE"),
        (("--name", "x", "--from-literal", "bad key=v"), "a Secret key may contain only"),
        (("--name", "x", "--from-literal", "a=1", "--from-literal", "a=2"), "given more than once"),
        (("--name", "x", "--from-file", "missing.txt"), "missing.txt: cannot read"),
        (("--name", "x"), "no values given"),
        (("--name", "x", "--type", "kubernetes.io/tls", "--from-literal", "a=b"), "needs the keys tls.crt and tls.key"),
    ],
)
def test_seal_input_errors(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert [line for line in err.splitlines() if line.startswith("promstack: error: ")] != []
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


@pytest.mark.parametrize(
    ("args", "echoed"),
    [
        (("--name", "a" * 300, "--from-literal", "k=v"), "a" * 300),
        (("--name", "x", "--from-literal", "k" * 5000 + "!=v"), "k" * 5000),
        (("--name", "x\nInjected: line", "--from-literal", "k=v"), "x\nInjected"),
        (("--name", "x", "--from-file", "/nonexistent/" + "d" * 400 + "/f"), "d" * 400),
    ],
    ids=["long-name", "long-key", "newline-in-name", "long-path"],
)
def test_seal_errors_echo_little_user_input_on_one_line(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], echoed: str
) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), *args) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "shell history" not in line]
    assert len(lines) == 1 and lines[0].startswith("promstack: error: ")
    assert echoed not in lines[0]
    assert len(lines[0]) < 400, lines[0]


def test_seal_does_not_echo_a_literal_given_without_its_key(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-literal", "correct-horse-battery-staple") == 2
    err = capsys.readouterr().err
    assert "expected KEY=VALUE" in err and "correct-horse" not in err


def test_cluster_name_with_a_line_break_stays_on_one_line(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("certs", "issue", "--cluster", "demo\nfake", "--sealing-cert", str(sealing_pem)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "demo\\nfake" in err


# --------------------------------------------------------------------------- seal: input the API server would refuse

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from-literal", ".=v"), "may not be '.' or '..' or start with '..'"),
        (("--from-literal", "..=v"), "may not be '.' or '..' or start with '..'"),
        (("--from-literal", "..data=v"), "may not be '.' or '..' or start with '..'"),
        (("--from-literal", "k" * 254 + "=v"), "a Secret key is at most 253 characters, this one 254"),
        (("--from-literal", "key\n=v"), "a Secret key may contain only letters"),
        (("--from-literal", "k\udcff=v"), "a Secret key may contain only letters"),
        (("--from-literal", "k=caf\udce9"), "--from-literal: k: the value is not valid UTF-8 (byte 3)"),
    ],
    ids=["dot", "dotdot", "dotdot-prefix", "key-254", "key-newline", "key-not-utf8", "value-not-utf8"],
)
def test_seal_refuses_keys_and_literals_the_api_server_would(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x", *args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("promstack: error: ")]
    assert len(errors) == 1 and message in errors[0], errors
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_seal_accepts_a_253_character_key(repo: Path, sealing_pem: Path, controller: Controller) -> None:
    key = "k" * 253
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-literal", f"{key}=v") == 0
    manifest = yaml.safe_load((demo(repo) / "x.sealedsecret.yaml").read_text())
    assert list(manifest["spec"]["encryptedData"]) == [key]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 254, "not a valid Secret name"),
        ("db\n", "not a valid Secret name"),
        ("a" * 238, "is 238 characters; its file .sealedsecret.yaml would exceed the 255-byte file name limit"),
    ],
    ids=["254", "trailing-newline", "file-name-too-long"],
)
def test_seal_refuses_names(
    repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", name,
               "--from-literal", "k=v") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("promstack: error: ")]
    assert len(errors) == 1 and message in errors[0], errors
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_seal_accepts_the_longest_name_that_fits_a_file(repo: Path, sealing_pem: Path) -> None:
    name = "a" * 237
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", name,
               "--from-literal", "k=v") == 0
    assert (demo(repo) / f"{name}.sealedsecret.yaml").is_file()


def test_seal_refuses_a_value_over_1_mib_and_accepts_1_mib(
    repo: Path, sealing_pem: Path, tmp_path: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    big, exact = tmp_path / "big", tmp_path / "exact"
    big.write_bytes(b"x" * (MIB + 1))
    exact.write_bytes(b"y" * MIB)
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-file", f"v={big}") == 2
    assert f"{big}: is larger than 1048576 bytes (1 MiB), the most a Secret holds" in capsys.readouterr().err
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-file", f"v={exact}") == 0
    manifest = yaml.safe_load((demo(repo) / "x.sealedsecret.yaml").read_text())
    assert unseal_value(controller[0], manifest["spec"]["encryptedData"]["v"], b"monitoring/x") == b"y" * MIB


def test_seal_refuses_values_adding_up_to_over_1_mib(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    half = tmp_path / "half"
    half.write_bytes(b"z" * (MIB // 2 + 1))
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-file", f"a={half}", "--from-file", f"b={half}") == 2
    assert "--from-file: b: the values add up to 1048578 bytes; a Secret holds at most 1048576 (1 MiB)" in \
        capsys.readouterr().err
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-symlink", "folder"])
def test_seal_reads_only_regular_files(
    repo: Path, sealing_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A named pipe would block forever and /dev/zero would fill memory: both refused before reading."""
    path = tmp_path / "value"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "is a named pipe"
    elif kind == "dev-zero-symlink":
        path.symlink_to("/dev/zero")
        expected = "is a character device"
    else:
        path.mkdir()
        expected = "is a folder"
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-file", f"k={path}") == 2
    err = capsys.readouterr().err
    assert err == (f"promstack: error: {path}: {expected}; --from-file reads only regular files; "
                   "write the value to a file first and pass that file\n")
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_seal_follows_a_symlink_to_a_regular_file(
    repo: Path, sealing_pem: Path, tmp_path: Path, controller: Controller
) -> None:
    target = tmp_path / "password.txt"
    target.write_bytes(b"s3cret")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "x",
               "--from-file", str(link)) == 0
    manifest = yaml.safe_load((demo(repo) / "x.sealedsecret.yaml").read_text())
    assert unseal_value(controller[0], manifest["spec"]["encryptedData"]["link"], b"monitoring/x") == b"s3cret"



@pytest.mark.parametrize("secret_type", ["Opaque\nfoo: bar", "Opaque ", " Opaque", "kubernetes.io/tls\r", "a b",
                                         "x" * 300, "Opaque\x00"])
def test_seal_refuses_a_type_that_is_no_secret_type(repo: Path, sealing_pem: Path, capsys: pytest.CaptureFixture[str],
                                                    secret_type: str) -> None:
    assert run("seal", "--cluster", "demo", "--sealing-cert", str(sealing_pem), "--name", "t",
               "--from-literal", "k=v", "--type", secret_type) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not a Secret type" in err, err
    assert sorted(p.name for p in demo(repo).iterdir()) == ["cluster.yaml"]


def test_seal_refuses_a_cluster_name_with_a_nul(repo: Path, sealing_pem: Path) -> None:
    # Found by test_fuzz: argv cannot hold a NUL, but a caller of the command can; Path.is_dir()
    # then raised ValueError ("embedded null byte") instead of the command's CertError.
    args = build_parser().parse_args(["seal", "--cluster", "demo", "--name", "x", "--from-literal", "k=v",
                                      "--sealing-cert", str(sealing_pem)])
    args.cluster = "de\x00mo"
    with pytest.raises(CertError, match="is not a cluster folder name"):
        inspect.unwrap(args.func)(args)
