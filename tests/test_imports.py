"""imports/ is exactly what `cdk8s import` generates from the CRDs cdk8s.yaml lists: never hand-edited."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import ROOT, read_tree


def test_imports_match_a_fresh_cdk8s_import(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "cdk8s.yaml", project / "cdk8s.yaml")
    shutil.copytree(ROOT / "crds", project / "crds")  # cdk8s.yaml names crds/<file>.yaml
    cli = ROOT / "node_modules" / ".bin" / "cdk8s"
    result = subprocess.run([str(cli), "import", "--no-check-upgrade", "--language", "python", "--output", "imports"],
                            cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    fresh, committed = ({name: data for name, data in read_tree(root).items() if "__pycache__" not in name}
                        for root in (project / "imports", ROOT / "imports"))
    assert sorted(fresh) == sorted(committed), "imports/ has files cdk8s import does not generate, or lacks some"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"imports/ differs from `make imports`: {changed}"
