"""Incremental synth: after a change, only the changed cluster's folder of dist/ is rewritten (and
dist/bootstrap/ when the set of clusters changed), and dist/ is byte-identical to a cold render."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import CLUSTERS, read_tree
from promstack.cli import main
from promstack.gitops import cache, incremental


def disable_example_app(cluster_file: Path) -> None:
    text = cluster_file.read_text()
    cluster_file.write_text(text.replace("exampleApp:\n  enabled: true", "exampleApp:\n  enabled: false"))


def identities(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file under ``root``: what a rewrite changes even when the bytes stay."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def under(ids: dict[str, tuple[int, int]], prefix: str) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in ids.items() if k.startswith(prefix)}


def synth(project: Path, *args: str) -> int:
    return main(["synth", "--clusters-dir", str(project / "clusters"), *args])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding the shipped clusters, synthesized once (the cache is warm)."""
    shutil.copytree(CLUSTERS, tmp_path / "clusters")
    assert synth(tmp_path) == 0
    return tmp_path


def cold(tmp_path: Path, clusters: Path) -> dict[str, bytes]:
    """dist/ as a first synth of ``clusters`` in a fresh project writes it."""
    fresh = tmp_path / "cold"
    shutil.copytree(clusters, fresh / "clusters")
    assert synth(fresh) == 0
    return read_tree(fresh / "dist")


def test_a_changed_cluster_rewrites_only_its_folder_and_matches_a_cold_render(project: Path) -> None:
    dist = project / "dist"
    before = identities(dist)
    disable_example_app(project / "clusters" / "demo" / "cluster.yaml")
    assert synth(project) == 0
    after = identities(dist)
    assert under(after, "clusters/prod-example/") == under(before, "clusters/prod-example/")
    assert under(after, "bootstrap/") == under(before, "bootstrap/")
    demo_before, demo_after = under(before, "clusters/demo/"), under(after, "clusters/demo/")
    assert "clusters/demo/podinfo.yaml" in demo_before and "clusters/demo/podinfo.yaml" not in demo_after
    assert all(demo_after[f] != demo_before.get(f) for f in demo_after), "every demo file is rewritten"
    assert read_tree(dist) == cold(project.parent / "elsewhere", project / "clusters")


def test_no_change_rewrites_nothing_and_prints_what_a_full_run_prints(project: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert synth(project, "--no-cache") == 0
    full = capsys.readouterr().err
    before = identities(project / "dist")
    assert synth(project) == 0
    assert capsys.readouterr().err == full  # the cached clusters' warnings are printed again
    assert identities(project / "dist") == before


def test_no_cache_rewrites_every_file_with_the_same_bytes(project: Path) -> None:
    before, tree = identities(project / "dist"), read_tree(project / "dist")
    assert synth(project, "--no-cache") == 0
    after = identities(project / "dist")
    assert read_tree(project / "dist") == tree
    assert not [f for f in after if after[f] == before[f]]


def test_adding_and_removing_a_cluster_rewrites_its_folder_and_the_bootstrap_objects(project: Path) -> None:
    dist = project / "dist"
    before, tree = identities(dist), read_tree(dist)
    (project / "clusters" / "edge").mkdir()
    (project / "clusters" / "edge" / "cluster.yaml").write_text(
        "adapter:\n  tls:\n    mode: self-signed\ngrafana:\n  adminSecret: existing\n")
    assert synth(project) == 0
    added = identities(dist)
    assert under(added, "clusters/demo/") == under(before, "clusters/demo/")
    assert under(added, "clusters/edge/")
    assert under(added, "bootstrap/") != under(before, "bootstrap/")
    assert "dist/clusters/edge" in (dist / "bootstrap" / "flux" / "promstack.yaml").read_text()
    assert read_tree(dist) == cold(project.parent / "with-edge", project / "clusters")

    shutil.rmtree(project / "clusters" / "edge")
    assert synth(project) == 0
    assert not (dist / "clusters" / "edge").exists()
    assert under(identities(dist), "clusters/demo/") == under(before, "clusters/demo/")
    assert read_tree(dist) == tree


def test_a_folder_edited_by_hand_is_rendered_again(project: Path) -> None:
    dist = project / "dist"
    tree = read_tree(dist)
    with (dist / "clusters" / "demo" / "prometheus.yaml").open("a") as edited:
        edited.write("# edited by hand\n")
    (dist / "clusters" / "prod-example" / "extra.yaml").write_text("kind: Extra\n")
    (dist / "clusters" / "gone").mkdir()
    (dist / "stale.yaml").write_text("kind: Stale\n")
    assert synth(project) == 0
    assert read_tree(dist) == tree
    assert not (dist / "clusters" / "gone").exists()


def test_bad_input_in_one_cluster_fails_the_run_and_leaves_dist_untouched(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, tree = identities(project / "dist"), read_tree(project / "dist")
    with (project / "clusters" / "demo" / "cluster.yaml").open("a") as file:
        file.write("kubeStateMetrics:\n  secretMetrics: maybe\n")
    capsys.readouterr()
    assert synth(project) == 2
    assert "demo/cluster.yaml: kubeStateMetrics.secretMetrics: " in capsys.readouterr().err
    assert identities(project / "dist") == before and read_tree(project / "dist") == tree


def test_a_code_change_renders_every_cluster_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = identities(project / "dist")
    monkeypatch.setattr(cache, "code_key", lambda: "another promstack")
    assert synth(project) == 0
    after = identities(project / "dist")
    assert not [f for f in after if after[f] == before[f]]


def test_a_dist_put_back_from_a_copy_is_rendered_again_and_a_moved_one_has_no_cache(project: Path) -> None:
    moved = project.parent / "moved"
    os.rename(project / "dist", moved)
    shutil.copytree(moved, project / "dist")  # same bytes, other files
    before = identities(project / "dist")
    assert cache.load(project / ".build", project / "dist")  # the manifest is about this path ...
    assert synth(project) == 0
    after = identities(project / "dist")
    assert not [f for f in after if after[f] == before[f]]  # ... but not about these files
    assert cache.load(project / ".build", moved) == {}


def test_a_swap_that_fails_half_way_puts_every_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist, new = tmp_path / "dist", tmp_path / "new"
    for name in ("a", "b"):
        (dist / "clusters" / name).mkdir(parents=True)
        (dist / "clusters" / name / "x.yaml").write_text(f"old {name}\n")
        (new / name).mkdir(parents=True)
        (new / name / "x.yaml").write_text(f"new {name}\n")
    (dist / "stale.yaml").write_text("kind: Stale\n")
    before = read_tree(dist)
    real_move, moves = incremental._move, []

    def failing_move(src: Path, dst: Path) -> None:
        moves.append(src)
        if src == new / "b":
            raise OSError("disk full")
        real_move(src, dst)

    monkeypatch.setattr(incremental, "_move", failing_move)
    changes: list[tuple[Path, Path | None]] = [(dist / "clusters" / "a", new / "a"), (dist / "stale.yaml", None),
                                               (dist / "clusters" / "b", new / "b")]
    with pytest.raises(OSError, match="disk full"):
        incremental._swap_folders(changes, tmp_path / "previous")
    assert new / "a" in moves  # a was swapped before b failed ...
    assert read_tree(dist) == before  # ... and put back, with the stale file


def test_moving_a_cluster_to_keda_renders_the_bootstrap_again(project: Path) -> None:
    """Flux delivers no apiservice/ folder for a cluster without the adapter: the bootstrap objects'
    key covers which clusters render one, so the cached bootstrap is not reused."""
    dist = project / "dist"
    before = identities(dist)
    with (project / "clusters" / "demo" / "cluster.yaml").open("a") as file:
        file.write("autoscaling:\n  provider: keda\n")
    assert synth(project) == 0
    assert under(identities(dist), "bootstrap/") != under(before, "bootstrap/")
    assert "promstack-demo-apiservice" not in (dist / "bootstrap" / "flux" / "promstack.yaml").read_text()
    assert read_tree(dist) == cold(project.parent / "keda", project / "clusters")
