"""remote_write end to end: a real Prometheus sends what prod-example's rendered prometheus.yml says
to a real remote-write receiver, over TLS with basic auth, and the series arrive labelled.

Debian's ``prometheus`` package (``make promtool`` installs it; v2.42) runs both servers on
loopback, each with its TSDB in the test's tmp_path:

- the receiver: ``--web.enable-remote-write-receiver``, serving HTTPS with a CA made here and
  accepting only the sealed password's basic auth (``--web.config.file``);
- the sender: the rendered ``global`` (external labels), the rendered ``remote_write`` and the
  rendered static self-scrape. What only exists in a cluster is rewritten: the Kubernetes SD jobs
  and ``alerting`` are removed (Debian builds Prometheus without Kubernetes SD), the endpoint URL
  points at the receiver, the files the pod would mount (the sealed password, the CA ConfigMap)
  are files in tmp_path, and the scrape interval is 1s so the test waits seconds, not a minute.

What 2.42 cannot check and v3.14 does: v3 always expands ``${VAR}`` in external label values (2.42
only with ``--enable-feature=expand-external-labels``, which the sender gets here), and the
StatefulSet must give each pod ``POD_NAME`` from its own name; both are checked in Python below.
An agent (``mode: agent``) is run from the construct's rendering the same way, as 2.42 spells
agent mode (``--enable-feature=agent``; v3 has ``--agent``, which the rendered args are checked for).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import cdk8s
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Rendered, find
from promstack.components.prometheus import Prometheus
from promstack.config.cluster import PrometheusConfig

DEADLINE_SECONDS = 60
PASSWORD = "e2e-remote-write-password"
REPLICA = "prometheus-0"


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail("the prometheus binary is missing: run `make promtool` (Debian's prometheus package)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 it signs: (ca.crt, server.crt, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e store CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@dataclass
class Receiver:
    url: str
    ca: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        auth = base64.b64encode(f"prod-example:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {auth}")
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(request, timeout=5, context=context) as response:  # loopback only
            result: list[dict[str, Any]] = json.load(response)["data"]["result"]
            return result


def start(binary: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([binary, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sender_config(rendered_text: str, *, sender_port: int, receiver_url: str, files: dict[str, Path]) -> str:
    """The rendered prometheus.yml, rewritten as the module docstring says."""
    config = yaml.safe_load(rendered_text)
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config.pop("alerting", None)
    config.pop("rule_files", None)
    config["scrape_configs"] = [job for job in config["scrape_configs"] if "kubernetes_sd_configs" not in job]
    [self_scrape] = config["scrape_configs"]
    assert self_scrape["static_configs"] == [{"targets": ["localhost:9090"]}]
    self_scrape["static_configs"] = [{"targets": [f"127.0.0.1:{sender_port}"]}]
    for key, path in self_scrape.get("basic_auth", {}).items():  # behind its own basic auth (web config)
        if key.endswith("_file"):
            self_scrape["basic_auth"][key] = str(files[path])
    [endpoint] = config["remote_write"]
    endpoint["url"] = receiver_url + urllib.parse.urlparse(endpoint["url"]).path.replace("/api/v1/push",
                                                                                        "/api/v1/write")
    for auth in ("basic_auth", "tls_config"):
        for key, path in endpoint[auth].items():
            if key.endswith("_file"):
                endpoint[auth][key] = str(files[path])
    endpoint["queue_config"] = {"batch_send_deadline": "1s"}
    return str(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every server a test starts, terminated (then killed) when the test ends, however it ends."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process)


@pytest.fixture
def receiver(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> Receiver:
    binary = prometheus_binary()
    folder = tmp_path / "receiver"
    folder.mkdir()
    ca, cert, key = tls_files(folder)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (folder / "web.yml").write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {"prod-example": hashed}}))
    (folder / "prometheus.yml").write_text("global: {}\n")
    port = free_port()
    processes.append(start(binary, [
        f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={folder / 'web.yml'}",
        "--web.enable-remote-write-receiver"], folder / "log"))
    return Receiver(url=f"https://127.0.0.1:{port}", ca=ca)


def test_samples_arrive_at_the_store_labelled_with_cluster_and_replica(
        receiver: Receiver, rendered: list[Rendered], tmp_path: Path,
        processes: list[subprocess.Popen[bytes]]) -> None:
    binary = prometheus_binary()
    rendered_text = find(rendered, "prod-example", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    folder = tmp_path / "sender"
    folder.mkdir()
    password = folder / "mimir-password"
    password.write_text(PASSWORD)  # what the controller decrypts into the mounted Secret
    # prod-example's Prometheus is behind basic auth (exposed through a Gateway): its self-scrape
    # logs in as the in-cluster client, with the password the sealed web-auth Secret mounts.
    client_password = folder / "client-password"
    client_password.write_text(PASSWORD)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (folder / "web.yml").write_text(yaml.safe_dump({"basic_auth_users": {"promstack": hashed}}))
    files = {"/etc/prometheus/remote-write/mimir-password": password,
             "/etc/prometheus/remote-write-ca/mimir-ca.crt": receiver.ca,
             "/etc/prometheus/web-auth/client-password": client_password}
    port = free_port()
    (folder / "prometheus.yml").write_text(
        sender_config(rendered_text, sender_port=port, receiver_url=receiver.url, files=files))
    process = start(binary, [f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={folder / 'web.yml'}",
                             "--enable-feature=expand-external-labels"],
                    folder / "log", env={"POD_NAME": REPLICA, "PATH": "/usr/bin:/bin"})
    processes.append(process)
    wanted = f'up{{cluster="prod-example", region="eu-west-1", __replica__="{REPLICA}", job="prometheus"}}'
    assert wait_for(receiver, wanted, process, folder / "log")
    assert wait_for(receiver, 'go_goroutines{cluster="prod-example"}', process, folder / "log")
    # prod-example's writeRelabelConfigs keep the Go runtime's GC and memstats series in the cluster.
    assert receiver.query('{__name__=~"go_(gc|memstats)_.*"}') == []


def wait_for(receiver: Receiver, promql: str, process: subprocess.Popen[bytes], log: Path) -> list[dict[str, Any]]:
    """The receiver's answer to ``promql`` once it is not empty, polling until the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if found := receiver.query(promql):
                return found
        except OSError:
            pass  # the receiver is still starting
        time.sleep(0.5)
    pytest.fail(f"nothing matching {promql} reached the receiver within {DEADLINE_SECONDS}s; sender log:\n"
                f"{log.read_text()[-3000:]}")


def test_an_agent_forwards_what_it_scrapes(receiver: Receiver, tmp_path: Path,
                                           processes: list[subprocess.Popen[bytes]]) -> None:
    """mode: agent, rendered by the construct, run as an agent (2.42: --enable-feature=agent, v3: --agent)."""
    settings = PrometheusConfig.model_validate({"mode": "agent", "remoteWrite": [{
        "name": "store", "url": "https://store.example.com/api/v1/push",
        "basicAuth": {"username": "prod-example", "passwordSecret": "store-password"},
        "tls": {"caFile": "store-ca.crt"}}]})
    sealed = {"metadata": {"name": "prometheus-remote-write", "namespace": "monitoring"},
              "spec": {"encryptedData": {"store-password": "AgB..."}}}
    chart = cdk8s.Chart(cdk8s.App(), "agent")
    prometheus = Prometheus(chart, settings=settings, remote_write_secret=sealed,
                            remote_write_cas={"store-ca.crt": receiver.ca.read_text()})
    args = prometheus.stateful_set.to_json()["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "--agent"
    folder = tmp_path / "agent"
    folder.mkdir()
    password = folder / "store-password"
    password.write_text(PASSWORD)
    files = {"/etc/prometheus/remote-write/store-password": password,
             "/etc/prometheus/remote-write-ca/store-ca.crt": receiver.ca}
    port = free_port()
    (folder / "prometheus.yml").write_text(
        sender_config(prometheus.config_text, sender_port=port, receiver_url=receiver.url, files=files))
    process = start(prometheus_binary(), [
        f"--config.file={folder / 'prometheus.yml'}", "--enable-feature=agent",
        f"--storage.agent.path={folder / 'wal'}", f"--web.listen-address=127.0.0.1:{port}"], folder / "log")
    processes.append(process)
    assert wait_for(receiver, 'up{cluster="promstack", job="prometheus"}', process, folder / "log")


def test_what_only_v3_does_with_the_replica_label_is_wired(rendered: list[Rendered]) -> None:
    """v3 expands ${POD_NAME} without a flag; the pod must have POD_NAME, and no other value a $ to expand."""
    config = yaml.safe_load(find(rendered, "prod-example", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    labels = config["global"]["external_labels"]
    assert labels["__replica__"] == "${POD_NAME}"
    assert all("$" not in value for name, value in labels.items() if name != "__replica__")
    container = find(rendered, "prod-example", "StatefulSet", "prometheus")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    assert not any("expand-external-labels" in arg for arg in container["args"])  # a v2 flag v3 no longer has
