"""A team's rule files and dashboards, read at the edge: one clear line per problem, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from promstack.config.cluster import ClusterConfig, load_all, load_cluster
from promstack.config.inputs import (
    MAX_TEAM_FILE_BYTES,
    load_inputs,
    load_team_dashboards,
    load_team_rule_files,
)
from promstack.config.model import ConfigError

GOOD_RULES = """\
groups:
  - name: shop.rules
    rules:
      - record: job:shop_orders:rate5m
        expr: sum by (job) (rate(shop_orders_total[5m]))
      - alert: ShopOrdersStopped
        expr: job:shop_orders:rate5m == 0
        for: 15m
        labels: {severity: critical}
        annotations: {summary: No orders.}
"""


def dashboard(uid: str = "shop", title: str = "Shop", expr: str = "sum(rate(shop_orders_total[$__rate_interval]))",
              **extra: object) -> str:
    panels = [{"type": "row", "title": "r", "panels": [{"title": "orders", "targets": [{"refId": "A", "expr": expr}]}]}]
    return json.dumps({"uid": uid, "title": title, "panels": panels, **extra})


@pytest.fixture()
def clusters(tmp_path: Path) -> Path:
    folder = tmp_path / "clusters" / "shop"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("adapter: {tls: {mode: self-signed}}\ngrafana: {adminSecret: existing}\n")
    return tmp_path / "clusters"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def cluster(clusters: Path) -> ClusterConfig:
    return load_cluster(clusters / "shop")


def problems_of(load: object, config: ClusterConfig) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(config)  # type: ignore[operator]
    return [p.replace(str(config.path.parent) + "/", "") for p in caught.value.problems]


def test_no_team_folders_mean_no_team_content(clusters: Path) -> None:
    inputs = load_inputs(cluster(clusters))
    assert inputs.team_rule_files == {} and inputs.team_dashboards == {}


def test_good_files_are_read_as_file_name_to_text(clusters: Path) -> None:
    write(clusters / "shop" / "rules" / "shop.rules.yaml", GOOD_RULES)
    write(clusters / "shop" / "dashboards" / "shop.json", dashboard())
    write(clusters / "shop" / "rules" / ".editor-swap", "ignored: hidden files are not read\n")
    inputs = load_inputs(cluster(clusters))
    assert inputs.team_rule_files == {"shop.rules.yaml": GOOD_RULES}
    assert inputs.team_dashboards == {"shop.json": dashboard()}


def test_shared_files_reach_every_cluster_and_the_cluster_file_wins(clusters: Path) -> None:
    other = clusters / "other"
    other.mkdir()
    (other / "cluster.yaml").write_text("adapter: {tls: {mode: self-signed}}\ngrafana: {adminSecret: existing}\n")
    shared = write(clusters / "_shared" / "rules" / "fleet.rules.yaml", GOOD_RULES)
    write(clusters / "_shared" / "rules" / "common.rules.yaml", GOOD_RULES.replace("shop.rules", "common.rules")
          .replace("ShopOrdersStopped", "CommonStopped").replace("job:shop_orders", "job:common_orders"))
    write(clusters / "_shared" / "dashboards" / "fleet.json", dashboard(uid="fleet", title="Fleet"))
    own = GOOD_RULES.replace("for: 15m", "for: 30m")
    write(clusters / "shop" / "rules" / "fleet.rules.yaml", own)
    # The shared folder is no cluster: discovery skips it without an error.
    assert [c.name for c in load_all(clusters)] == ["other", "shop"]
    shop, other_inputs = load_inputs(cluster(clusters)), load_inputs(load_cluster(other))
    assert shop.team_rule_files["fleet.rules.yaml"] == own  # the cluster's file replaces the shared one
    assert other_inputs.team_rule_files["fleet.rules.yaml"] == shared.read_text()
    assert set(shop.team_rule_files) == set(other_inputs.team_rule_files) == {"common.rules.yaml", "fleet.rules.yaml"}
    assert set(shop.team_dashboards) == set(other_inputs.team_dashboards) == {"fleet.json"}


def test_a_shared_folder_with_a_cluster_yaml_is_refused(clusters: Path) -> None:
    write(clusters / "_shared" / "cluster.yaml", "{}\n")
    with pytest.raises(ConfigError) as caught:
        load_all(clusters)
    [problem] = caught.value.problems
    assert problem.endswith("_shared: (folder): _shared/ holds the rules/ and dashboards/ of every cluster and is no "
                            "cluster; move cluster.yaml into a folder named after the cluster")


RULE_PROBLEMS = [
    ("groups: [\n", "x.rules.yaml: line 2: not valid YAML: "),
    ("- just a list\n", "x.rules.yaml: groups: missing; a rule file is a YAML document `groups:"),
    ("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: rate(up[5m]\n",
     "x.rules.yaml: groups[0].rules[0].expr: not valid PromQL (unclosed left parenthesis); fix the expression"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n",
     "x.rules.yaml: groups[0].rules[0].labels.severity: missing; give one of critical, warning, info"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        labels: {severity: page}\n",
     "x.rules.yaml: groups[0].rules[0].labels.severity: 'page' is not allowed; give one of critical, warning, info"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 5 minutes\n"
     "        labels: {severity: info}\n",
     "x.rules.yaml: groups[0].rules[0].for: '5 minutes' is not a Prometheus duration"),
    ("groups:\n  - name: g\n    rules:\n      - expr: up\n",
     "x.rules.yaml: groups[0].rules[0]: needs exactly one of record and alert"),
    ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        exprr: up\n",
     "x.rules.yaml: groups[0].rules[0].exprr: unknown key"),
    ("groups:\n  - name: g\n    rules: []\n", "x.rules.yaml: groups[0].rules: missing or empty"),
    ("groups:\n  - name: g\n    rules: [{record: a, expr: up}]\n  - name: g\n    rules: [{record: b, expr: up}]\n",
     "x.rules.yaml: groups[1].name: 'g' names an earlier group too"),
    (b"groups: []\n# caf\xe9\n", "x.rules.yaml: line 2: not UTF-8 text (byte offset 16); save the file as UTF-8"),
]


@pytest.mark.parametrize(("text", "expected"), RULE_PROBLEMS)
def test_a_bad_rule_file_is_one_clear_line(clusters: Path, text: str | bytes, expected: str) -> None:
    write(clusters / "shop" / "rules" / "x.rules.yaml", text)
    [problem] = problems_of(load_team_rule_files, cluster(clusters))
    assert problem.startswith("shop/rules/" + expected), problem


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ("groups:\n  - name: promstack.node.rules\n    rules: [{record: a, expr: up}]\n",
         "shop/rules/x.rules.yaml: groups: 'promstack.node.rules' is a built-in rule group; rename the group"),
        ("groups:\n  - name: g\n    rules: [{alert: TargetDown, expr: up == 0, labels: {severity: info}}]\n",
         "shop/rules/x.rules.yaml: alert: 'TargetDown' is a built-in alert; give yours its own name"),
        ("groups:\n  - name: g\n    rules: [{record: 'namespace:http_requests:rate5m', expr: up}]\n",
         "shop/rules/x.rules.yaml: record: 'namespace:http_requests:rate5m' is recorded by a built-in rule"),
        ("groups:\n  - name: shop.rules\n    rules: [{record: a, expr: up}]\n",
         "shop/rules/y.rules.yaml: groups: 'shop.rules' is a group of "),
    ],
)
def test_names_must_not_collide_with_built_ins_or_each_other(clusters: Path, rules: str, expected: str) -> None:
    write(clusters / "shop" / "rules" / "x.rules.yaml", GOOD_RULES)
    write(clusters / "shop" / "rules" / ("y.rules.yaml" if "shop.rules" in rules else "x.rules.yaml"), rules)
    [problem] = problems_of(load_team_rule_files, cluster(clusters))
    assert problem.startswith(expected), problem


def test_a_file_named_like_a_built_in_rule_file_is_refused(clusters: Path) -> None:
    write(clusters / "shop" / "rules" / "alerts.rules.yaml", GOOD_RULES)
    assert problems_of(load_team_rule_files, cluster(clusters)) == [
        "shop/rules/alerts.rules.yaml: (file name): promstack's own rules are in alerts.rules.yaml; rename the file"]


def test_misnamed_files_and_subfolders_are_not_silently_skipped(clusters: Path) -> None:
    write(clusters / "shop" / "rules" / "shop.yaml", GOOD_RULES)
    write(clusters / "shop" / "dashboards" / "nested" / "a.json", dashboard())
    config = cluster(clusters)
    assert problems_of(load_team_rule_files, config) == [
        "shop/rules/shop.yaml: (file name): not read: only <name>.rules.yaml files are; rename it (letters, "
        "digits, '-', '_', '.') or move it out"]
    assert problems_of(load_team_dashboards, config) == [
        "shop/dashboards/nested: (folder): dashboards/ is read flat, not its subfolders; move the files up into "
        "dashboards/"]


def test_non_regular_files_are_refused(clusters: Path) -> None:
    rules = clusters / "shop" / "rules"
    (rules / "dir.rules.yaml").mkdir(parents=True)
    os.mkfifo(rules / "fifo.rules.yaml")
    (rules / "dangling.rules.yaml").symlink_to(rules / "nowhere")
    (rules / "link.rules.yaml").symlink_to(write(clusters / "elsewhere.yaml", GOOD_RULES))  # a link to a file is fine
    assert problems_of(load_team_rule_files, cluster(clusters)) == [
        "shop/rules/dangling.rules.yaml: (file): a symlink to nothing; point it at a file or replace it with one",
        "shop/rules/dir.rules.yaml: (file): a directory, not a regular file; make it a plain file",
        "shop/rules/fifo.rules.yaml: (file): a named pipe, not a regular file; make it a plain file",
    ]


def test_oversized_files_are_refused(clusters: Path) -> None:
    padding = "#" * MAX_TEAM_FILE_BYTES + "\n"
    write(clusters / "shop" / "rules" / "big.rules.yaml", GOOD_RULES + padding)
    write(clusters / "shop" / "dashboards" / "big.json", dashboard() + " " * MAX_TEAM_FILE_BYTES)
    config = cluster(clusters)
    assert problems_of(load_team_rule_files, config) == [
        "shop/rules/big.rules.yaml: (file): larger than 256 KiB; an input file this large is a mistake, keep it small"]
    assert problems_of(load_team_dashboards, config) == [
        "shop/dashboards/big.json: (file): larger than 256 KiB; an input file this large is a mistake, keep it small"]


def test_a_configmap_over_1_mib_is_refused(clusters: Path) -> None:
    for i in range(5):  # each file fits; all five do not fit in one ConfigMap
        write(clusters / "shop" / "dashboards" / f"d{i}.json",
              dashboard(uid=f"d{i}", title=f"D{i}", description="x" * (MAX_TEAM_FILE_BYTES - 1000)))
    [problem] = problems_of(load_team_dashboards, cluster(clusters))
    assert problem.startswith("shop/dashboards: (files): the dashboards come to ")
    assert problem.endswith("bytes in ConfigMap grafana-team-dashboards, over the 1048576 (1 MiB) the API server "
                            "accepts; make them smaller or move some out")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "d.json: line 1: not valid JSON: Expecting property name enclosed in double quotes; fix it"),
        ("[]", "d.json: (top level): must be a JSON object (a dashboard), got a list"),
        (json.dumps({"title": "T"}), "d.json: uid: missing; give a stable uid of at most 40 letters"),
        (dashboard(uid="no spaces allowed"), "d.json: uid: 'no spaces allowed' is not a dashboard uid"),
        (json.dumps({"uid": "t"}), "d.json: title: missing or empty; give the dashboard a title"),
        (dashboard(expr="sum(rate(x[$__rate_interval])"),
         "d.json: panels[0].panels[0].targets[0].expr: not valid PromQL (unclosed left parenthesis); fix the "
         "expression"),
        (dashboard(expr="sum by ($label) (x)"), "d.json: panels[0].panels[0].targets[0].expr: not valid PromQL"),
    ],
)
def test_a_bad_dashboard_is_one_clear_line(clusters: Path, text: str, expected: str) -> None:
    write(clusters / "shop" / "dashboards" / "d.json", text)
    [problem] = problems_of(load_team_dashboards, cluster(clusters))
    assert problem.startswith("shop/dashboards/" + expected), problem


def test_dashboard_uids_are_unique_across_built_in_and_team_dashboards(clusters: Path) -> None:
    write(clusters / "_shared" / "dashboards" / "a.json", dashboard(uid="same", title="A"))
    write(clusters / "shop" / "dashboards" / "b.json", dashboard(uid="same", title="B"))
    write(clusters / "shop" / "dashboards" / "c.json", dashboard(uid="promstack-nodes", title="C"))
    write(clusters / "shop" / "dashboards" / "d.json", dashboard(uid="d", title="A"))
    problems = problems_of(load_team_dashboards, cluster(clusters))
    assert problems == [
        "shop/dashboards/b.json: uid: 'same' is the uid of _shared/dashboards/a.json too; give each dashboard its own",
        "shop/dashboards/c.json: uid: 'promstack-nodes' is a built-in dashboard's uid; give yours its own",
        "shop/dashboards/d.json: title: 'A' is the title of _shared/dashboards/a.json too; Grafana wants one title "
        "per folder, give each dashboard its own",
    ]


def test_synth_prints_the_lines_and_no_traceback(clusters: Path, tmp_path: Path) -> None:
    (clusters / "fleet.yaml").write_text("repoURL: https://example.com/fleet.git\n")
    write(clusters / "shop" / "rules" / "x.rules.yaml",
          "groups:\n  - name: g\n    rules: [{record: a, expr: 'up +'}]\n")
    write(clusters / "_shared" / "dashboards" / "d.json", "{")
    path = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run([sys.executable, "-m", "promstack.cli", "synth", "--clusters-dir", str(clusters)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "PATH": path})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.replace(str(clusters) + "/", "").splitlines()
    assert "promstack: error: shop/rules/x.rules.yaml: groups[0].rules[0].expr: not valid PromQL" in "\n".join(lines)
    assert any(line.startswith("promstack: error: _shared/dashboards/d.json: line 1: not valid JSON")
               for line in lines)
