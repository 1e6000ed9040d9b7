"""promstack diff: precise field paths, added/removed objects, and never a secret value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from promstack.diff import InputError, diff_trees, main

SECRET = "AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq"  # ciphertext-looking value, must never be printed


def deployment(replicas: int, args: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "prometheus-adapter", "namespace": "monitoring"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "a", "args": args}]}}},
    }


def sealed(value: str) -> dict[str, Any]:
    return {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "adapter-serving-certs", "namespace": "monitoring"},
        "spec": {"encryptedData": {"serving.key": value}, "template": {"type": "Opaque"}},
    }


def apiservice(ca: str) -> dict[str, Any]:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
            "spec": {"caBundle": ca, "groupPriorityMinimum": 100}}


def tree(**files: list[dict[str, Any]]) -> dict[str, bytes]:
    return {name.replace("__", "/").replace("_", "-") + ".yaml": yaml.safe_dump_all(docs).encode()
            for name, docs in files.items()}


OLD = tree(
    clusters__demo__prometheus_adapter=[deployment(1, ["--a", "--b", "--c", "--v=2"]), sealed(SECRET),
                                        apiservice("Q0Ex")],
    clusters__demo__grafana=[{"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": "grafana", "namespace": "monitoring"}}],
)
NEW = tree(
    clusters__demo__prometheus_adapter=[deployment(2, ["--a", "--b", "--c", "--v=4"]), sealed(SECRET + "x")],
    clusters__demo__apiservice__apiservice=[apiservice("Q0Ey")],
    clusters__edge__namespace=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}],
)


def test_changed_replicas_and_args() -> None:
    report = diff_trees(OLD, NEW)
    (change,) = [c for c in report.changes if c.key.kind == "Deployment"]
    assert change.change == "changed" and change.key.cluster == "demo" and change.key.group == "apps"
    assert [str(f) for f in change.fields] == [
        "spec.replicas: 1 -> 2",
        'spec.template.spec.containers[0].args[3]: "--v=2" -> "--v=4"',
    ]


def test_added_and_removed_objects_by_cluster() -> None:
    report = diff_trees(OLD, NEW)
    kinds = {(c.key.cluster, c.key.kind, c.key.name): c.change for c in report.changes}
    assert kinds[("demo", "Service", "grafana")] == "removed"
    assert kinds[("edge", "Namespace", "monitoring")] == "added"
    # Moving the APIService into apiservice/ is no add/remove: only its caBundle changed.
    assert kinds[("demo", "APIService", "v1beta1.custom.metrics.k8s.io")] == "changed"
    text = report.render_text()
    assert "demo:\n" in text and "  removed Service monitoring/grafana\n" in text
    assert "edge:\n  added Namespace monitoring\n" in text
    assert "1 added, 1 removed, 3 changed" in text


def test_secrets_are_summarised_never_printed() -> None:
    report = diff_trees(OLD, NEW)
    for output in (report.render_text(), report.render_markdown()):
        assert SECRET not in output and "Q0Ex" not in output and "Q0Ey" not in output
        assert 'spec.encryptedData["serving.key"]' in output and "<ciphertext changed>" in output
        assert "spec.caBundle" in output and "<certificate changed>" in output


def test_multiline_text_shows_changed_lines() -> None:
    old = tree(clusters__a__cm=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                 "data": {"prometheus.yml": "global:\n  scrape_interval: 30s\n"}}])
    new = tree(clusters__a__cm=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                 "data": {"prometheus.yml": "global:\n  scrape_interval: 15s\n"}}])
    (field,) = diff_trees(old, new).changes[0].fields
    assert field.path == 'data["prometheus.yml"]'
    assert field.summary == "text changed (+1 -1 lines)"
    assert field.lines == ("-  scrape_interval: 30s", "+  scrape_interval: 15s")


def test_markdown_has_a_heading_per_cluster() -> None:
    md = diff_trees(OLD, NEW).render_markdown()
    assert "### demo" in md and "### edge" in md
    assert "- **changed** `Deployment.apps monitoring/prometheus-adapter`" in md
    assert "  - `spec.replicas`: `1 -> 2`" in md


def test_no_changes() -> None:
    assert diff_trees(OLD, OLD).render_text() == "no changes\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_cli_against_a_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    dist = repo / "dist"
    for path, content in OLD.items():
        (dist / path).parent.mkdir(parents=True, exist_ok=True)
        (dist / path).write_bytes(content)
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    for path in OLD:
        (dist / path).unlink()
    for path, content in NEW.items():
        (dist / path).parent.mkdir(parents=True, exist_ok=True)
        (dist / path).write_bytes(content)
    assert main(["--dist", str(dist), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "`spec.replicas`: `1 -> 2`" in out and SECRET not in out
    assert main(["--dist", str(dist), "--base", "no-such-ref"]) == 2
    assert "not a commit" in capsys.readouterr().err


# -- unreadable or invalid input is an error (exit 2), never "removed" nor "no changes" ----------

BAD_FILES = {
    "invalid YAML": (b"apiVersion: v1\nkind: Namespace\nmetadata: {name: demo\n",
                     "clusters/demo/grafana.yaml:4:1: invalid YAML: did not find expected ',' or '}'"),
    "not UTF-8": (b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: caf\xe9\n",
                  "clusters/demo/grafana.yaml:4: not UTF-8 (byte 0xe9 at offset 52): save the file as UTF-8"),
    "not an object": (b"--- just text\n",
                      "clusters/demo/grafana.yaml: document 1: not a Kubernetes object (got \"just text\"): "
                      "fix or remove it"),
    "no name": (b"apiVersion: v1\nkind: Service\nmetadata: {namespace: monitoring}\n",
                "clusters/demo/grafana.yaml: document 1: metadata.name missing or not a string: fix it"),
    "duplicate key": (b"apiVersion: v1\nkind: Service\nmetadata: {name: grafana, name: other}\n",
                      "clusters/demo/grafana.yaml: document 1: metadata.name: duplicate key: strict validation "
                      "refuses it and readers differ on which value wins; keep one"),
    "too deep": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
                 "clusters/demo/grafana.yaml:1:203: refused: nested deeper than 200 levels, the most the gate "
                 "reads: flatten it"),
}


@pytest.mark.parametrize("side", ["base", "working tree"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_an_invalid_file_on_either_side_is_an_error_not_a_removal(case: str, side: str) -> None:
    # Before: a warning, and the file's objects showed as removed (or added); 5,000 nested
    # brackets raised RecursionError out of PyYAML's pure-Python loader.
    content, message = BAD_FILES[case]
    broken = {**OLD, "clusters/demo/grafana.yaml": content}
    old, new, label = (broken, OLD, "base:") if side == "base" else (OLD, broken, "")
    with pytest.raises(InputError) as raised:
        diff_trees(old, new)
    assert raised.value.problems == [label + message]


def test_lists_are_expanded_like_the_gate_does() -> None:
    items = yaml.safe_load_all(OLD["clusters/demo/prometheus-adapter.yaml"])
    listed = {**OLD, "clusters/demo/prometheus-adapter.yaml": yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": list(items)}).encode()}
    assert diff_trees(OLD, listed).render_text() == "no changes\n"


def test_unquoted_dates_compare_as_text() -> None:
    # safe_load made datetime objects of them, which the summary could not print (TypeError).
    def ns(date: str) -> dict[str, bytes]:
        return {"clusters/a/ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"
                                      f"  annotations:\n    since: {date}\n".encode()}
    (change,) = diff_trees(ns("2024-01-01"), ns("2024-01-02")).changes
    assert [str(f) for f in change.fields] == ['metadata.annotations.since: "2024-01-01" -> "2024-01-02"']


def committed_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for path, content in OLD.items():
        (repo / "dist" / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / "dist" / path).write_bytes(content)
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    return repo


def test_cli_reports_every_problem_and_compares_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = committed_repo(tmp_path)
    dist = repo / "dist"
    (dist / "clusters/demo/grafana.yaml").write_bytes(BAD_FILES["invalid YAML"][0])
    (dist / "clusters/demo/extra.yaml").write_bytes(b"--- 5\n")
    assert main(["--dist", str(dist)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"promstack diff: error: {dist}/clusters/demo/extra.yaml: document 1: not a Kubernetes object (got 5): "
        "fix or remove it",
        f"promstack diff: error: {dist}/{BAD_FILES['invalid YAML'][1]}",
        "promstack diff: 2 problem(s) reading the manifests: nothing compared",
    ]


def test_cli_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path)
    os.mkfifo(repo / "dist" / "clusters/demo/pipe.yaml")
    done = subprocess.run([sys.executable, "-m", "promstack.diff", "--dist", str(repo / "dist")],
                          capture_output=True, text=True, timeout=60, check=False, cwd=repo)
    assert done.returncode == 2 and done.stdout == ""
    assert f"{repo}/dist/clusters/demo/pipe.yaml: a fifo, not a regular file" in done.stderr


def test_cli_reports_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root chmod does not stop a read: the open itself is made to fail. Before, a
    # PermissionError traceback (exit 1).
    repo = committed_repo(tmp_path)
    real_open = os.open

    def refuse(path: Any, *args: Any) -> int:
        if str(path).endswith("grafana.yaml"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", refuse)
    assert main(["--dist", str(repo / "dist")]) == 2
    assert (f"promstack diff: error: {repo}/dist/clusters/demo/grafana.yaml: cannot read (Permission denied): "
            "check that it exists and is readable") in capsys.readouterr().err


def test_cli_refuses_a_symlink_committed_in_dist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = committed_repo(tmp_path)
    (repo / "dist/clusters/demo/link.yaml").symlink_to("grafana.yaml")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "link")
    (repo / "dist/clusters/demo/link.yaml").unlink()
    assert main(["--dist", str(repo / "dist")]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "promstack diff: error: HEAD:dist/clusters/demo/link.yaml: a symlink in git, not a regular file: "
        "commit the manifest itself"
    )


def scaled_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": name, "namespace": "apps"},
            "spec": {"scaleTargetRef": {"name": name}, "triggers": []}}


def hpa(name: str) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "apps"}, "spec": {"maxReplicas": 3}}


ADAPTER = tree(clusters__demo__autoscaling=[hpa("web")], clusters__demo__apiservice__a=[apiservice("Q0Ex")],
               clusters__prod__autoscaling=[hpa("web")])
BOTH = tree(clusters__demo__autoscaling=[scaled_object("web")], clusters__demo__apiservice__a=[apiservice("Q0Ex")],
            clusters__prod__autoscaling=[hpa("web")])
KEDA = tree(clusters__demo__autoscaling=[scaled_object("web")], clusters__prod__autoscaling=[hpa("web")])


def test_the_provider_switch_is_the_clusters_first_line() -> None:
    step1 = diff_trees(ADAPTER, BOTH).render_text().splitlines()
    assert step1[:2] == ["demo:", "  autoscaling provider: prometheus-adapter -> prometheus-adapter + keda"]
    step2 = diff_trees(BOTH, KEDA).render_text().splitlines()
    assert step2[:3] == ["demo:", "  autoscaling provider: prometheus-adapter + keda -> keda",
                         "  removed APIService.apiregistration.k8s.io v1beta1.custom.metrics.k8s.io"]
    markdown = diff_trees(BOTH, KEDA).render_markdown()
    assert "**`autoscaling provider: prometheus-adapter + keda -> keda`**" in markdown
    assert "prod:" not in diff_trees(ADAPTER, KEDA).render_text(), "prod did not change"


def test_a_switch_in_one_step_is_flagged() -> None:
    text = diff_trees(ADAPTER, KEDA).render_text()
    assert "  autoscaling provider: prometheus-adapter -> keda\n" in text
    assert ("  warning: the adapter goes in the same sync as KEDA takes over; move a live cluster in two commits "
            "(autoscaling.keepAdapter first), see the README's \"Moving from prometheus-adapter to KEDA\"") in text
    assert "warning" not in diff_trees(ADAPTER, BOTH).render_text()
