"""dist/ holds exactly the files a fresh synth writes, and it works as the tests' snapshot store.

syrupy fails the session on a file of dist/ no test renders any more (an unused snapshot), but
only when the whole suite runs and without --snapshot-warn-unused; the first test says it in any
run. test_snapshots compares the files' bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLUSTERS, DIST, ROOT, read_tree


def test_dist_holds_exactly_the_rendered_files(out_dir: Path, pytestconfig: pytest.Config) -> None:
    if pytestconfig.option.update_snapshots:
        pytest.skip("--snapshot-update adds the new files to dist/ and deletes the stale ones")
    fresh, committed = set(read_tree(out_dir)), set(read_tree(DIST))
    added, deleted = sorted(fresh - committed), sorted(committed - fresh)
    assert not (added or deleted), (
        "dist/ is out of date: run `make synth` (or `pytest --snapshot-update`), review `git diff dist/` "
        f"and commit it.\n  new files not in dist/: {added}\n  files in dist/ no longer rendered: {deleted}"
    )


def test_the_snapshot_store_reports_and_accepts_a_rendering_change(out_dir: Path, tmp_path: Path) -> None:
    """In a copy of the project holding only the snapshot test: an edited, a missing and a stale
    file in dist/ fail with what to run, and `pytest --snapshot-update` turns dist/ into the render."""
    project = tmp_path / "project"
    for folder in (CLUSTERS, DIST):
        shutil.copytree(folder, project / folder.name)
    (project / "tests").mkdir()
    for name in ("conftest.py", "test_snapshots.py"):
        shutil.copy2(ROOT / "tests" / name, project / "tests" / name)
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    dist = project / "dist"
    with (dist / "clusters" / "demo" / "prometheus.yaml").open("a") as edited:
        edited.write("# edited by hand\n")
    (dist / "clusters" / "demo" / "podinfo.yaml").unlink()
    (dist / "clusters" / "gone" / "apiservice").mkdir(parents=True)
    (dist / "clusters" / "gone" / "apiservice" / "prometheus-adapter.yaml").write_text("kind: APIService\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", *args],
                              cwd=project, env=env, capture_output=True, text=True, check=False)

    failed = pytest_run()
    assert failed.returncode != 0
    out = failed.stdout
    assert "- # edited by hand" in out  # the diff of the edited file, with what to run:
    assert "dist/ is out of date: run `make synth` (or `pytest --snapshot-update`)" in out
    assert "Snapshot 'test_rendered_file_matches_snapshot[clusters/demo/podinfo.yaml]' does not exist!" in out
    assert "A new rendered file, not in dist/. dist/ is out of date: run `make synth`" in out
    assert "1 snapshot unused." in out and "Re-run pytest with --snapshot-update" in out

    updated = pytest_run("--snapshot-update")
    assert updated.returncode == 0, updated.stdout
    assert "1 snapshot generated. 1 snapshot updated. 1 unused snapshot deleted." in updated.stdout
    assert read_tree(dist) == read_tree(out_dir)
    assert not (dist / "clusters" / "gone").exists()

    assert pytest_run().returncode == 0


def test_dist_diffs_are_not_collapsed_in_pull_requests() -> None:
    """GitHub collapses linguist-generated files; the rendered diff of dist/ is the review."""
    paths = ["dist/clusters/demo/prometheus.yaml", "dist/bootstrap/argocd/promstack.yaml", "imports/x.py"]
    out = subprocess.run(["git", "check-attr", "linguist-generated", "--", *paths], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "dist/clusters/demo/prometheus.yaml: linguist-generated: unspecified",
        "dist/bootstrap/argocd/promstack.yaml: linguist-generated: unspecified",
        "imports/x.py: linguist-generated: true",
    ]
