"""Bad cluster input: one clear error per problem (file, field, fix), and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, read_tree
from promstack.cli import run_synth, schema_text
from promstack.config.cluster import discover_clusters, load_all, load_cluster
from promstack.config.model import ConfigError


def write_cluster(tmp_path: Path, text: str, name: str = "bad") -> Path:
    folder = tmp_path / "clusters" / name
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prometheus:\n  nodePrt: 30090\n", "prometheus.nodePrt: unknown key"),
        ("prometheus:\n  nodePort: 30090\n", "prometheus.nodePort: was replaced by prometheus.exposure; write "
         "`exposure: {type: nodePort, nodePort: 30090}` to keep the NodePort, or leave it out: the default is "
         "clusterIP"),
        ("grafana:\n  nodePort: 30300\n", "grafana.nodePort: was replaced by grafana.exposure; write "
         "`exposure: {type: nodePort, nodePort: 30300}`"),
        ("prometheus:\n  exposure: {type: nodePort, nodePort: '30090'}\n",
         "prometheus.exposure.nodePort: must be a valid integer"),
        ("prometheus:\n  exposure: {type: nodePort, nodePort: 8080}\n",
         "prometheus.exposure.nodePort: 8080 is outside the NodePort range; use 30000-32767"),
        ("grafana:\n  exposure: {type: nodePort, nodePort: 30090}\nprometheus:\n  exposure: {type: nodePort}\n",
         "grafana.exposure.nodePort 30090 is already used by prometheus.exposure.nodePort"),
        ("alertmanager:\n  exposure: {type: nodePort, nodePort: 30300}\ngrafana:\n  exposure: {type: nodePort}\n",
         "alertmanager.exposure.nodePort 30300 is already used by grafana.exposure.nodePort"),
        ("grafana:\n  exposure: {type: public}\n",
         "grafana.exposure.type: must be 'clusterIP', 'nodePort', 'ingress' or 'gateway'"),
        ("grafana:\n  exposure: {type: ingress, host: g.example.com}\n", "grafana.exposure: type ingress needs tls"),
        ("grafana:\n  exposure: {type: gateway, host: g.example.com, gateway: {name: public}}\n",
         "grafana.exposure.gateway.sectionName: required here"),
        ("grafana:\n  exposure: {type: clusterIP, host: g.example.com}\n",
         "grafana.exposure: host is not used by type clusterIP; remove it or change the type"),
        ("grafana:\n  exposure: {type: ingress, host: G_1, tls: {sealed: true}}\n",
         "grafana.exposure.host: 'G_1' is not a valid name"),
        ("prometheus:\n  exposure: {type: ingress, host: p.example.com, tls: {}}\n",
         "prometheus.exposure.tls: give exactly one of clusterIssuer, issuer (cert-manager) or sealed: true, not none"),
        ("namespace: Monitoring\n", "namespace: 'Monitoring' is not a valid name"),
        ("prometheus:\n  storage:\n    size: 10GB\n", "prometheus.storage.size: '10GB' is not a Kubernetes quantity"),
        ("prometheus:\n  retention: 2 weeks\n", "prometheus.retention: '2 weeks' is not a Prometheus duration"),
        ("adapter:\n  replicas: 0\n", "adapter.replicas: must be greater than or equal to 1"),
        ("adapter:\n  tls:\n    mode: plain\n", "adapter.tls.mode: must be 'sealed', 'cert-manager' or 'self-signed'"),
        ("adapter:\n  rules:\n  - {seriesQuery: x, metricsQuery: y}\n",
         "adapter.rules[0].resources: required here; add it"),
        ("adapter:\n  rules:\n  - {seriesQuery: x, metricsQuery: y, resources: {template: a},"
         " name: {matches: '(('}}\n", "adapter.rules[0].name.matches: '((' is not an RE2 regular expression"),
        ("prometheus: [1, 2]\n", "prometheus: must be a valid dictionary"),
        ("prometheus:\n  retention: 1d\n  retention: 2d\n", "line 3: not valid YAML: duplicate key 'retention'"),
        ("prometheus: {\n", "not valid YAML"),
        ("- a\n", "(top level): must be a mapping of settings"),
        ("prometheus:\n  on: 1\n", "prometheus: the key True is not text; quote it or remove it"),
        # Anchored patterns: Python's `$` also matches before a trailing newline.
        ('namespace: "monitoring\\n"\n', "namespace: 'monitoring\\n' is not a valid name"),
        ('prometheus:\n  retention: "15d\\n"\n', "prometheus.retention: '15d\\n' is not a Prometheus duration"),
        ('prometheus:\n  resources:\n    requests: {cpu: "100m\\n", memory: 1Gi}\n    limits: {cpu: 1, memory: 1Gi}\n',
         "prometheus.resources.requests.cpu: '100m\\n' is not a Kubernetes quantity"),
        ('prometheus:\n  storage:\n    size: "10Gi\\n"\n',
         "prometheus.storage.size: '10Gi\\n' is not a Kubernetes quantity"),
        ('adapter:\n  metricsRelistInterval: "1m\\n"\n', "adapter.metricsRelistInterval: '1m\\n' is not a "),
        ("prometheus:\n  storage:\n    storageClass: Fast_SSD\n",
         "prometheus.storage.storageClass: 'Fast_SSD' is not a valid name"),
        ("grafana:\n  persistence:\n    storageClass: " + "a" * 254 + "\n", "grafana.persistence.storageClass: 'aaa"),
        ("prometheus:\n  retention: 15D\n", "prometheus.retention: '15D' is not a Prometheus duration"),
        ("alerts:\n  targetDownFor: 1h\n  memoryFor: 10m\n  crashloopFor: 5m\n  badConfigFor: 10 m\n",
         "alerts.badConfigFor: '10 m' is not a Prometheus duration"),
        ("alerts:\n  customMetricsApiservices: []\n", "alerts.customMetricsApiservices: must have at least 1 item"),
        ("adapter:\n  rules:\n  - {seriesQuery: x, metricsQuery: y, resources: {template: a},"
         " seriesFilters: [{isNot: '(('}]}\n", "adapter.rules[0].seriesFilters[0].isNot: '((' is not an RE2 regular"),
        ("adapter:\n  rules:\n  - {seriesQuery: x, metricsQuery: y, resources: {overrides: {a.b: {resource: pod}}}}\n",
         "adapter.rules[0].resources.overrides: 'a.b' is not a Prometheus label name"),
        # Bounds.
        ("prometheus:\n  storage:\n    size: 0Gi\n", "prometheus.storage.size: '0Gi' is not above zero"),
        ("prometheus:\n  resources:\n    requests: {cpu: 0, memory: 1Gi}\n    limits: {cpu: 1, memory: 1Gi}\n",
         "prometheus.resources.requests.cpu: '0' is not above zero"),
        ("prometheus:\n  storage:\n    size: 1e40\n", "prometheus.storage.size: '1e40' is not a Kubernetes quantity"),
        ("prometheus:\n  storage:\n    size: 9Ei\n", "prometheus.storage.size: '9Ei' is too large"),
        ("exampleApp:\n  targetAverageValue: '0'\n", "exampleApp.targetAverageValue: '0' is not above zero"),
        ("prometheus:\n  retention: 300y\n", "prometheus.retention: '300y' is not a Prometheus duration"),
        ("prometheus:\n  retention: " + "9" * 100_000 + "d\n", "prometheus.retention: '999"),
        ("prometheus:\n  scrapeInterval: 0s\n", "prometheus.scrapeInterval: '0s' is zero"),
        ("adapter:\n  metricsRelistInterval: 1d\n", "adapter.metricsRelistInterval: '1d' is not a Go duration"),
        ("adapter:\n  replicas: 2147483648\n", "adapter.replicas: must be less than or equal to 10"),
        ("exampleApp:\n  maxReplicas: 2147483648\n", "exampleApp.maxReplicas: must be less than or equal to 100"),
        ("alerts:\n  crashloopRestartsPer15m: 100000\n",
         "alerts.crashloopRestartsPer15m: must be less than or equal to 1000"),
        ("alerts:\n  targetDownPercent: .nan\n", "alerts.targetDownPercent: must be a finite number"),
        # Requests above limits, compared as quantities.
        ("prometheus:\n  resources:\n    requests: {cpu: 2500m, memory: 1Gi}\n    limits: {cpu: 2, memory: 1Gi}\n",
         "prometheus.resources: requests.cpu 2500m is above limits.cpu 2; lower the requests or raise the limits"),
        ("grafana:\n  resources:\n    requests: {cpu: 1, memory: 1Gi}\n    limits: {cpu: 1, memory: 1G}\n",
         "grafana.resources: requests.memory 1Gi is above limits.memory 1G"),
    ],
)
def test_bad_input_gives_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    folder = write_cluster(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    assert len(caught.value.problems) == 1, caught.value.problems
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'cluster.yaml'}: ")
    assert expected in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    folder = write_cluster(tmp_path, "namespace: BAD\nprometheus:\n  exposure: {type: nodePort, nodePort: 1}\n"
                                     "grafana:\n  colour: red\n")
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    assert [p.split(": ")[1] for p in caught.value.problems] == ["namespace", "prometheus.exposure.nodePort",
                                                                   "grafana.colour"]


def test_invalid_cluster_folder_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid cluster name; rename the folder"):
        load_cluster(write_cluster(tmp_path, "{}", name="Prod_1"))


def test_bad_input_leaves_dist_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_cluster(tmp_path, "{}", name="good")
    write_cluster(tmp_path, "prometheus:\n  retention: 2 weeks\n", name="bad")
    dist = tmp_path / "dist"
    (dist / "clusters" / "good").mkdir(parents=True)
    (dist / "clusters" / "good" / "prometheus.yaml").write_text("kind: Previous\n")
    before = read_tree(dist)
    monkeypatch.setenv("CDK8S_OUTDIR", str(dist))
    assert run_synth(tmp_path / "clusters") == 2
    assert read_tree(dist) == before
    err = capsys.readouterr().err
    assert "bad/cluster.yaml: prometheus.retention: '2 weeks' is not a Prometheus duration" in err


def test_make_synth_on_bad_input_keeps_the_previous_dist(tmp_path: Path) -> None:
    """Through the real cdk8s CLI, which empties its output folder before running the app."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Makefile", "cdk8s.yaml", "main.py"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    for name in (".venv", "node_modules"):
        (project / name).symlink_to(ROOT / name)
    write_cluster(project, "prometheus:\n  retention: 2 weeks\n", name="broken")
    (project / "dist").mkdir()
    (project / "dist" / "keep.yaml").write_text("kind: Previous\n")
    # -o: use the project's bootstrapped environment as it is.
    result = subprocess.run(["make", "-s", "-o", ".venv/.installed", "-o", "node_modules/.installed", "synth"],
                            cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert ("broken/cluster.yaml: prometheus.retention: '2 weeks' is not a Prometheus duration"
            in result.stdout + result.stderr)
    assert read_tree(project / "dist") == {"keep.yaml": b"kind: Previous\n"}


def test_committed_schema_is_current() -> None:
    assert (ROOT / "schema" / "cluster.schema.json").read_text() == schema_text(), (
        "schema/cluster.schema.json is stale; run `make schema`"
    )


def test_shipped_clusters_reference_the_schema() -> None:
    for cluster_file in sorted((ROOT / "clusters").glob("*/cluster.yaml")):
        first = cluster_file.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schema/cluster.schema.json", cluster_file


def test_schema_rejects_unknown_keys() -> None:
    schema = json.loads(schema_text())
    assert schema["additionalProperties"] is False
    assert schema["properties"]["prometheus"]["$ref"].endswith("PrometheusConfig")


def test_determinism_across_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("1", "4242"):
        out = tmp_path / f"seed-{seed}"
        env = {"PYTHONHASHSEED": seed, "CDK8S_OUTDIR": str(out), "PATH": f"{ROOT / 'node_modules/.bin'}:/usr/bin:/bin"}
        subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, check=True, capture_output=True)
        trees.append(read_tree(out))
    assert trees[0] == trees[1] and trees[0]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["cluster.yml"],
         "stray: (folder): no cluster.yaml, so it is not a cluster; rename 'cluster.yml' to cluster.yaml"),
        (["grafana-admin.sealedsecret.yaml"],
         "stray: (folder): no cluster.yaml, so it is not a cluster; add cluster.yaml "
         "(an empty file means all defaults) or move the folder out of clusters/"),
        ([], "stray: (folder): no cluster.yaml"),
    ],
)
def test_a_cluster_folder_without_cluster_yaml_is_an_error(tmp_path: Path, files: list[str], expected: str) -> None:
    write_cluster(tmp_path, "{}", name="good")
    write_cluster(tmp_path, "namespace: BAD\n", name="bad")
    stray = tmp_path / "clusters" / "stray"
    stray.mkdir()
    for name in files:
        (stray / name).write_text("{}\n")
    with pytest.raises(ConfigError) as caught:
        load_all(tmp_path / "clusters")
    # The stray folder and the other clusters' problems are reported together.
    stray_problem, bad_problem = (p.removeprefix(f"{tmp_path / 'clusters'}/") for p in caught.value.problems)
    assert stray_problem.startswith(expected)
    assert bad_problem.startswith("bad/cluster.yaml: namespace: 'BAD' is not a valid name")
    with pytest.raises(ConfigError):
        discover_clusters(tmp_path / "clusters")


def test_hidden_folders_and_files_are_not_clusters(tmp_path: Path) -> None:
    write_cluster(tmp_path, "{}", name="good")
    clusters = tmp_path / "clusters"
    (clusters / ".git").mkdir()
    (clusters / ".cache" / "x").mkdir(parents=True)
    (clusters / "fleet.yaml").write_text("repoURL: x\n")
    (clusters / "README.md").write_text("hi\n")
    assert discover_clusters(clusters) == [clusters / "good"]
    assert [c.name for c in load_all(clusters)] == ["good"]


def test_a_missing_clusters_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere: \(folder\): missing or not a folder; create it"):
        load_all(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: \(folder\): no <name>/cluster.yaml found"):
        load_all(tmp_path / "empty")


def test_an_odd_folder_name_stays_on_one_line(tmp_path: Path) -> None:
    folder = write_cluster(tmp_path, "{}", name="bad\nname")
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    [problem] = caught.value.problems
    assert "\n" not in problem and "'bad\\nname' is not a valid cluster name" in problem
