"""Changes Kubernetes refuses on update (immutable fields): flagged by `promstack diff` (exit 1) and by
`promstack validate --base REF` (check `upgrade`), each in a git repository with two commits."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from promstack.diff import diff_trees
from promstack.diff import main as diff_main
from promstack.validate.immutable import PREFIX, quantity

Obj = dict[str, Any]


def statefulset() -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "prometheus", "namespace": "mon"},
            "spec": {"replicas": 1, "serviceName": "prometheus", "selector": {"matchLabels": {"app": "p"}},
                     "template": {"metadata": {"labels": {"app": "p"}}, "spec": {"containers": [{"name": "p"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]}}


def workload(kind: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "namespace": "mon"},
            "spec": {"selector": {"matchLabels": {"app": "w"}},
                     "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "w"}]}}}}


def job() -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "mon"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "j", "image": "a"}]}}}}


def service(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "mon"},
            "spec": {"ports": [{"port": 80}], **spec}}


def pvc(size: str = "10Gi", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "mon"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}}


def binding(role: str) -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "mon"}]}


def edit(obj: Obj, change: Callable[[Obj], object]) -> Obj:
    changed = copy.deepcopy(obj)
    change(changed)
    return changed


def tree(*objects: Obj) -> dict[str, bytes]:
    return {"clusters/demo/objects.yaml": yaml.safe_dump_all(objects).encode()}


def refused(old: Obj, new: Obj) -> list[str]:
    report = diff_trees(tree(old), tree(new))
    return [im.path for change in report.changes for im in change.immutable]


STS = statefulset()
# (what, old, new, the refused field paths)
REFUSED: list[tuple[str, Obj, Obj, list[str]]] = [
    ("sts volumeClaimTemplates", STS,
     edit(STS, lambda o: o["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(storage="20Gi")),
     ["spec.volumeClaimTemplates"]),
    ("sts claim template label", STS,
     edit(STS, lambda o: o["spec"]["volumeClaimTemplates"][0]["metadata"].update(labels={"v": "1"})),
     ["spec.volumeClaimTemplates"]),
    ("sts selector", STS, edit(STS, lambda o: o["spec"]["selector"]["matchLabels"].update(v="2")), ["spec.selector"]),
    ("sts serviceName", STS, edit(STS, lambda o: o["spec"].update(serviceName="other")), ["spec.serviceName"]),
    ("sts podManagementPolicy", STS, edit(STS, lambda o: o["spec"].update(podManagementPolicy="Parallel")),
     ["spec.podManagementPolicy"]),
    *[(f"{kind} selector", workload(kind),
       edit(workload(kind), lambda o: o["spec"]["selector"]["matchLabels"].update(tier="x")), ["spec.selector"])
      for kind in ("Deployment", "DaemonSet", "ReplicaSet")],
    ("job template", job(), edit(job(), lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="b")),
     ["spec.template"]),
    ("job selector", job(), edit(job(), lambda o: o["spec"].update(selector={"matchLabels": {"a": "b"}})),
     ["spec.selector"]),
    ("service clusterIP changed", service(clusterIP="10.0.0.1"), service(clusterIP="10.0.0.2"), ["spec.clusterIP"]),
    ("service made headless", service(), service(clusterIP="None"), ["spec.clusterIP"]),
    ("headless service made normal", service(clusterIP="None"), service(), ["spec.clusterIP"]),
    ("headless service made NodePort", service(clusterIP="None"), service(type="NodePort"), ["spec.clusterIP"]),
    ("service given a fixed address", service(), service(clusterIP="10.0.0.9"), ["spec.clusterIP"]),
    ("pvc shrunk", pvc("10Gi"), pvc("5Gi"), ["spec.resources.requests.storage"]),
    ("pvc storage class", pvc(storageClassName="a"), pvc(storageClassName="b"), ["spec.storageClassName"]),
    ("pvc access modes", pvc(), edit(pvc(), lambda o: o["spec"].update(accessModes=["ReadWriteMany"])),
     ["spec.accessModes"]),
    ("rolebinding roleRef", binding("a"), binding("b"), ["roleRef"]),
    ("immutable configmap data",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}},
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True, "data": {"a": "2"}},
     ["data"]),
    ("secret type", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "kubernetes.io/tls"}, ["type"]),
]

ALLOWED: list[tuple[str, Obj, Obj]] = [
    ("sts pod template labels", STS, edit(STS, lambda o: o["spec"]["template"]["metadata"]["labels"].update(v="2"))),
    ("sts replicas", STS, edit(STS, lambda o: o["spec"].update(replicas=3))),
    ("sts update strategy", STS, edit(STS, lambda o: o["spec"].update(updateStrategy={"type": "OnDelete"}))),
    ("sts default podManagementPolicy spelt out", STS,
     edit(STS, lambda o: o["spec"].update(podManagementPolicy="OrderedReady"))),
    ("sts labels", STS, edit(STS, lambda o: o["metadata"].update(labels={"v": "2"}))),
    ("deployment pod template labels and replicas", workload("Deployment"),
     edit(workload("Deployment"), lambda o: (o["spec"]["template"]["metadata"]["labels"].update(v="2"),
                                             o["spec"].update(replicas=4)))),
    ("pvc grows", pvc("10Gi"), pvc("20Gi")),
    ("pvc grows across units", pvc("1000Mi"), pvc("1Gi")),
    ("service ports and type", service(), service(type="NodePort", ports=[{"port": 81}])),
    ("service with the same clusterIP", service(clusterIP="10.0.0.1"),
     service(clusterIP="10.0.0.1", ports=[{"port": 81}])),
    ("job parallelism", job(), edit(job(), lambda o: o["spec"].update(parallelism=2))),
    ("mutable configmap data",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}},
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}}),
    ("binding subjects", binding("a"), edit(binding("a"), lambda o: o["subjects"].append(
        {"kind": "ServiceAccount", "name": "y", "namespace": "mon"}))),
]


@pytest.mark.parametrize(("what", "old", "new", "paths"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_change_to_an_immutable_field_is_flagged(what: str, old: Obj, new: Obj, paths: list[str]) -> None:
    assert refused(old, new) == paths


@pytest.mark.parametrize(("what", "old", "new"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_an_allowed_change_is_not_flagged(what: str, old: Obj, new: Obj) -> None:
    report = diff_trees(tree(old), tree(new))
    assert report.changes, "the fixture must change something"
    assert refused(old, new) == []


def test_quantities_compare_by_value() -> None:
    assert quantity("1Gi") == 1024 * quantity("1Mi")  # type: ignore[operator]
    assert quantity("1G") == quantity("1000M") and quantity("10") == 10 and quantity("x") is None


def test_text_and_markdown_say_what_to_do() -> None:
    new = edit(STS, lambda o: o["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(
        storage="20Gi"))
    report = diff_trees(tree(STS), tree(new))
    text = report.render_text()
    assert (f"    spec.volumeClaimTemplates: {PREFIX}; orphan-delete it with `kubectl delete statefulset prometheus "
            "-n mon --cascade=orphan` and let the sync recreate it") in text
    assert text.endswith("0 added, 0 removed, 1 changed; 1 change(s) to immutable fields\n")
    markdown = report.render_markdown()
    assert "**1 change(s) to immutable fields: Kubernetes refuses them" in markdown
    assert f"  - **immutable** `spec.volumeClaimTemplates`: {PREFIX}; orphan-delete" in markdown


# -- the commands, in a git repository with two commits ---------------------------------------------

def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


def two_commits(tmp_path: Path, old: dict[str, bytes], new: dict[str, bytes]) -> Path:
    """A repository whose HEAD~1 holds ``old`` under dist/ and HEAD (and the work tree) ``new``."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for files, message in ((old, "base"), (new, "change")):
        if (repo / "dist").exists():
            shutil.rmtree(repo / "dist")
        for path, content in files.items():
            (repo / "dist" / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / "dist" / path).write_bytes(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return repo


def test_diff_exits_1_on_an_immutable_change_and_0_otherwise(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    new = edit(STS, lambda o: o["spec"].update(serviceName="other", replicas=2))
    repo = two_commits(tmp_path, tree(STS), tree(new))
    assert diff_main(["--dist", str(repo / "dist"), "--base", "HEAD~1"]) == 1
    out = capsys.readouterr().out
    assert f"spec.serviceName: {PREFIX}; orphan-delete" in out and "spec.replicas: 1 -> 2" in out
    assert diff_main(["--dist", str(repo / "dist"), "--base", "HEAD~1", "--format", "markdown"]) == 1
    assert "**immutable** `spec.serviceName`" in capsys.readouterr().out
    assert diff_main(["--dist", str(repo / "dist"), "--base", "HEAD"]) == 0
    assert capsys.readouterr().out == "no changes\n"
    assert diff_main(["--dist", str(repo / "dist"), "--base", "no-such-ref"]) == 2


def _demo_repo(tmp_path: Path, change: Callable[[list[Any]], None]) -> Path:
    """The committed demo render as HEAD~1, and at HEAD with ``change`` applied to prometheus.yaml's objects."""
    src = ROOT / "dist" / "clusters" / "demo"
    old = {f"clusters/demo/{p.relative_to(src).as_posix()}": p.read_bytes() for p in src.rglob("*.yaml")}
    docs = list(yaml.safe_load_all(old["clusters/demo/prometheus.yaml"]))
    change(docs)
    new = {**old, "clusters/demo/prometheus.yaml": yaml.safe_dump_all(docs, sort_keys=False).encode()}
    return two_commits(tmp_path, old, new)


def _prometheus_sts(docs: list[Any]) -> Obj:
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "prometheus"]
    return sts  # type: ignore[no-any-return]


def _validate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    promstack = Path(sys.executable).parent / "promstack"
    return subprocess.run([str(promstack), "validate", "dist", "--skip-promtool", *args], cwd=repo,
                          capture_output=True, text=True, check=False, timeout=300)


def test_validate_base_refuses_a_claim_template_change(tmp_path: Path) -> None:
    def grow(docs: list[Any]) -> None:
        claim = _prometheus_sts(docs)["spec"]["volumeClaimTemplates"][0]
        claim["spec"]["resources"]["requests"]["storage"] = "99Gi"

    repo = _demo_repo(tmp_path, grow)
    done = _validate(repo, "--base", "HEAD~1")
    assert done.returncode == 1, done.stderr
    assert done.stdout == (f"dist/clusters/demo/prometheus.yaml: StatefulSet/monitoring/prometheus: "
                           f"spec.volumeClaimTemplates: {PREFIX}; orphan-delete it with `kubectl delete statefulset "
                           "prometheus -n monitoring --cascade=orphan` and let the sync recreate it (its pods keep "
                           "running and are adopted), or revert the change\n")
    json_out = _validate(repo, "--base", "HEAD~1", "--format", "json").stdout
    assert '"check": "upgrade"' in json_out
    assert _validate(repo).returncode == 0, "without --base the gate is what it was"


def test_validate_base_passes_allowed_changes(tmp_path: Path) -> None:
    def allowed(docs: list[Any]) -> None:
        sts = _prometheus_sts(docs)
        sts["spec"]["template"]["metadata"].setdefault("labels", {})["rollout"] = "2"
        sts["spec"]["replicas"] = 2

    repo = _demo_repo(tmp_path, allowed)
    done = _validate(repo, "--base", "HEAD~1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_validate_base_usage_errors(tmp_path: Path) -> None:
    repo = _demo_repo(tmp_path, lambda docs: None)
    bad_ref = _validate(repo, "--base", "no-such-ref")
    assert bad_ref.returncode == 2 and "is not a commit" in bad_ref.stderr
    promstack = Path(sys.executable).parent / "promstack"
    two_paths = subprocess.run([str(promstack), "validate", "dist", "dist/clusters", "--skip-promtool", "--base",
                                "HEAD"], cwd=repo, capture_output=True, text=True, check=False, timeout=300)
    assert two_paths.returncode == 2 and "give exactly one PATH" in two_paths.stderr
