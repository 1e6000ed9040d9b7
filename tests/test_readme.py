"""The README's library example runs as shown, in a folder with no cluster.yaml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT

SECTION = "## Use the constructs in your own cdk8s app"


def library_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"README: no python block under {SECTION!r}"
    return match.group(1)


def test_the_readme_library_example_runs_as_shown(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(library_example())
    result = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://prometheus.observability.svc:9090"
    objects = {(o["kind"], o["metadata"]["name"]): o
               for o in yaml.safe_load_all((tmp_path / "dist-mine" / "observability.k8s.yaml").read_text())}
    stateful_set = objects[("StatefulSet", "prometheus")]
    assert stateful_set["metadata"]["namespace"] == "observability"
    pod = stateful_set["spec"]["template"]["spec"]
    assert "--storage.tsdb.retention.time=30d" in pod["containers"][0]["args"]
    assert pod["priorityClassName"] == "observability-critical"
    [claim] = stateful_set["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert ("DaemonSet", "node-exporter") in objects and ("Namespace", "observability") in objects
    config = yaml.safe_load(objects[("ConfigMap", "prometheus-config")]["data"]["prometheus.yml"])
    assert "node-exporter" in [job["job_name"] for job in config["scrape_configs"]]
    assert not list(tmp_path.rglob("cluster.yaml"))
