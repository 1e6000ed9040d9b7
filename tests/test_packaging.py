"""`pip install` of the project gives a library: the wheel holds the package, the CRD bindings with
their jsii assemblies and the gate's schemas, declares its dependencies, and runs the README example."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT
from test_readme import library_example


def test_the_wheel_installs_a_working_construct_library(tmp_path: Path) -> None:
    build = tmp_path / "build"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(build), str(ROOT)], check=True, cwd=tmp_path, timeout=300)
    [wheel] = build.glob("promstack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sealedsecrets/com/bitnami/_jsii/sealedsecrets_combitnami@0.0.0.jsii.tgz" in names
    assert "promstack/validate/crd_schemas/keda.sh_scaledobjects.json" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "Requires-Dist: cdk8s<3,>=2.70" in metadata

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    (tmp_path / "example.py").write_text("import promstack\nprint(promstack.__file__)\n" + library_example())
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the project's editable install
    result = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(str(site)), "the example must run on the installed wheel"
    assert (tmp_path / "dist-mine" / "observability.k8s.yaml").is_file()
