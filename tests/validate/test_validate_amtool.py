"""amtool in the gate: every rendered alertmanager.yml is checked, and every *_file is a mounted secret key."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Rendered, find
from promstack.validate import validate_paths
from promstack.validate.amtool import amtool_compatible, find_amtool, knows_webhook_url_file

GOOD = """\
route:
  receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url_file: /etc/alertmanager/secrets/hook-url
"""


def manifests(config: str, *, mounted_keys: tuple[str, ...] = ("hook-url",)) -> list[dict[str, Any]]:
    meta = {"namespace": "monitoring", "labels": {"app.kubernetes.io/name": "am"}}
    pod: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": False,
        "containers": [{
            "name": "alertmanager", "image": "quay.io/prometheus/alertmanager:v0.34.1",
            "imagePullPolicy": "IfNotPresent",
            "args": ["--config.file=/etc/alertmanager/alertmanager.yml"],
            "volumeMounts": [{"name": "config", "mountPath": "/etc/alertmanager"},
                             {"name": "secrets", "mountPath": "/etc/alertmanager/secrets"}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
            "readinessProbe": {"httpGet": {"path": "/-/ready", "port": 9093}},
            "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": 9093}},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        }],
        "volumes": [{"name": "config", "configMap": {"name": "am-config"}},
                    {"name": "secrets", "secret": {"secretName": "am-receivers"}}],
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": "am-config"},
         "data": {"alertmanager.yml": config}},
        {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {**meta, "name": "am-receivers"},
         "spec": {"encryptedData": dict.fromkeys(mounted_keys, "AgBexample"),
                  "template": {"metadata": {"name": "am-receivers", "namespace": "monitoring"}}}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {**meta, "name": "am"},
         "spec": {"serviceName": "am", "selector": {"matchLabels": {"app.kubernetes.io/name": "am"}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": "am"}}, "spec": pod}}},
    ]


def gate(tmp_path: Path, docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    (tmp_path / "am.yaml").write_text(yaml.safe_dump_all(docs))
    return [(f.check, f.message) for f in validate_paths([tmp_path]) if f.check in {"amtool", "wiring"}]


def test_a_good_configuration_with_mounted_secret_files_passes(tmp_path: Path) -> None:
    assert gate(tmp_path, manifests(GOOD)) == []


def test_amtool_rejects_an_unknown_receiver_field(tmp_path: Path) -> None:
    bad = GOOD.replace("      - url_file:", "      - send_resolvd: true\n        url_file:")
    [(check, message)] = gate(tmp_path, manifests(bad))
    assert check == "amtool" and "send_resolvd" in message


def test_amtool_rejects_a_route_to_an_undefined_receiver(tmp_path: Path) -> None:
    [(check, message)] = gate(tmp_path, manifests(GOOD.replace("receiver: hook", "receiver: pager")))
    assert check == "amtool" and '"pager"' in message


def test_a_fleet_repeating_a_bad_configuration_gets_its_finding_in_every_cluster(tmp_path: Path) -> None:
    """amtool runs once per distinct configuration; every cluster holding it still gets the finding."""
    bad = manifests(GOOD.replace("receiver: hook", "receiver: pager"))
    for cluster in ("a", "b"):
        (tmp_path / cluster).mkdir()
        (tmp_path / cluster / "am.yaml").write_text(yaml.safe_dump_all(bad))
    found = [(Path(f.file).parent.name, f.check) for f in validate_paths([tmp_path / "a", tmp_path / "b"])
             if f.check == "amtool"]
    assert found == [("a", "amtool"), ("b", "amtool")]


def test_a_secret_file_no_mounted_key_backs_is_a_wiring_finding(tmp_path: Path) -> None:
    [(check, message)] = gate(tmp_path, manifests(GOOD, mounted_keys=("other-key",)))
    assert check == "wiring"
    assert message.startswith("url_file /etc/alertmanager/secrets/hook-url is not a key of any Secret that "
                              "StatefulSet/am mounts there")


def test_debians_older_amtool_gets_url_file_as_a_placeholder_url(tmp_path: Path) -> None:
    binary = find_amtool()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    if "version 0.25." in version.stdout + version.stderr:
        assert not knows_webhook_url_file(binary), "Debian's 0.25 does not know webhook url_file"
    compatible = amtool_compatible(GOOD, binary)
    assert compatible.count("\n") == GOOD.count("\n"), "line numbers must stay"
    (tmp_path / "am.yml").write_text(compatible)
    result = subprocess.run([binary, "check-config", str(tmp_path / "am.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("cluster", "labels", "receiver"), [
    ("prod-example", ["severity=critical", "alertname=NodeExporterDown"], "pager"),
    ("prod-example", ["severity=warning", "alertname=KubePodCrashLooping", "namespace=shop"], "chat"),
    ("prod-example", ["alertname=Watchdog", "severity=none"], "heartbeat"),
    ("prod-example", ["severity=info", "alertname=Other"], "null"),
    ("demo", ["severity=critical", "alertname=NodeExporterDown"], "null"),
    ("demo", ["alertname=Watchdog", "severity=none"], "null"),
])
def test_each_default_route_lands_where_it_should(rendered: list[Rendered], tmp_path: Path, cluster: str,
                                                  labels: list[str], receiver: str) -> None:
    binary = find_amtool()
    text = find(rendered, cluster, "ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"]
    (tmp_path / "am.yml").write_text(amtool_compatible(text, binary))
    result = subprocess.run([binary, "config", "routes", "test", f"--config.file={tmp_path / 'am.yml'}",
                             f"--verify.receivers={receiver}", *labels], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
