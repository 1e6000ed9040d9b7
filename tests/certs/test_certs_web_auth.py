"""`promstack seal-web-auth`: a bcrypt web config and the in-cluster clients' credentials, sealed."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from promstack.certs.sealing import unseal_value
from promstack.certs.web_auth import register

NOW = datetime.now(UTC)
PASSWORD = b"correct horse battery staple"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="promstack")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


@pytest.fixture(scope="module")
def controller_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, controller_key: rsa.RSAPrivateKey) -> Path:
    """A cluster folder ``prod`` (namespace metrics) whose sealing certificate is a test controller's."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(controller_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365)).sign(controller_key, hashes.SHA256()))
    folder = tmp_path / "repo" / "clusters" / "prod"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("namespace: metrics\n")
    (folder / "sealing-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "password").write_bytes(PASSWORD + b"\n")
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def unsealed(repo: Path, key: rsa.RSAPrivateKey, ui: str) -> dict[str, bytes]:
    manifest = yaml.safe_load((repo / "clusters" / "prod" / f"{ui}-web-auth.sealedsecret.yaml").read_text())
    assert manifest["metadata"] == {"name": f"{ui}-web-auth", "namespace": "metrics"}
    label = f"metrics/{ui}-web-auth".encode()
    return {k: unseal_value(key, v, label) for k, v in manifest["spec"]["encryptedData"].items()}


def test_prometheus_credentials_hash_the_password_and_carry_the_clients_own(
        repo: Path, controller_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    assert run("seal-web-auth", "--cluster", "prod", "--ui", "prometheus",
               "--password-file", str(tmp_path / "password")) == 0
    data = unsealed(repo, controller_key, "prometheus")
    assert sorted(data) == ["adapter-auth.kubeconfig", "client-password", "web-config.yml"]
    users = yaml.safe_load(data["web-config.yml"])["basic_auth_users"]
    assert sorted(users) == ["admin", "promstack"]
    assert bcrypt.checkpw(PASSWORD, users["admin"].encode())  # the trailing newline is not part of it
    client = data["client-password"]
    assert bcrypt.checkpw(client, users["promstack"].encode())
    assert not bcrypt.checkpw(PASSWORD, users["promstack"].encode())
    assert len(client) == 48 and all(c in b"0123456789abcdef" for c in client)  # URL-safe for the reloader
    kubeconfig = yaml.safe_load(data["adapter-auth.kubeconfig"])
    [cluster] = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == "http://prometheus.metrics.svc:9090"
    [user] = kubeconfig["users"]
    assert user["user"] == {"username": "promstack", "password": client.decode()}
    # The web config as Prometheus reads it: Debian's promtool accepts it.
    (tmp_path / "web.yml").write_bytes(data["web-config.yml"])
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run `make promtool`"
    done = subprocess.run([promtool, "check", "web-config", str(tmp_path / "web.yml")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # Re-sealing makes a new clients' password: the manifests differ, so the clients' pods roll.
    assert run("seal-web-auth", "--cluster", "prod", "--ui", "prometheus",
               "--password-file", str(tmp_path / "password")) == 0
    assert unsealed(repo, controller_key, "prometheus")["client-password"] != client


def test_alertmanager_credentials_have_no_adapter_file(repo: Path, controller_key: rsa.RSAPrivateKey,
                                                        tmp_path: Path) -> None:
    assert run("seal-web-auth", "--cluster", "prod", "--ui", "alertmanager", "--username", "oncall",
               "--password-file", str(tmp_path / "password")) == 0
    data = unsealed(repo, controller_key, "alertmanager")
    assert sorted(data) == ["client-password", "web-config.yml"]
    assert sorted(yaml.safe_load(data["web-config.yml"])["basic_auth_users"]) == ["oncall", "promstack"]


@pytest.mark.parametrize(("password", "username", "message"), [
    (b"short\n", "admin", "holds 5 bytes; bcrypt needs 12 to 72"),
    (b"x" * 73, "admin", "holds 73 bytes; bcrypt needs 12 to 72 (it ignores what follows byte 72)"),
    (b"first line\nsecond line\n", "admin", "holds more than one line"),
    (PASSWORD, "promstack", "is the in-cluster clients' user"),
    (PASSWORD, "a b", "is not a user name"),
])
def test_bad_input_is_one_line_and_writes_nothing(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  password: bytes, username: str, message: str) -> None:
    (tmp_path / "password").write_bytes(password)
    assert run("seal-web-auth", "--cluster", "prod", "--ui", "prometheus", "--username", username,
               "--password-file", str(tmp_path / "password")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert password.decode().strip() not in err or len(password) < 6
    assert not (repo / "clusters" / "prod" / "prometheus-web-auth.sealedsecret.yaml").exists()
