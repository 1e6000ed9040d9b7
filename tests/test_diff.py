"""promstack diff: precise field paths, added/removed objects, and never a secret value."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from promstack.diff import diff_trees, main

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
            "metadata": {"name": "v1beta1.custom.metrics.k8s.io"}, "spec": {"caBundle": ca, "groupPriorityMinimum": 100}}


def tree(**files: list[dict[str, Any]]) -> dict[str, bytes]:
    return {name.replace("__", "/").replace("_", "-") + ".yaml": yaml.safe_dump_all(docs).encode()
            for name, docs in files.items()}


OLD = tree(
    clusters__demo__prometheus_adapter=[deployment(1, ["--a", "--b", "--c", "--v=2"]), sealed(SECRET), apiservice("Q0Ex")],
    clusters__demo__grafana=[{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "grafana", "namespace": "monitoring"}}],
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
