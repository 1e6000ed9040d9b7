"""Shared fixtures: one in-process synth of the shipped clusters, reused by every test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLUSTERS = ROOT / "clusters"
DIST = ROOT / "dist"
# Node 22 from node_modules, as the Makefile sets it, so jsii never falls back to an old Node.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"


@dataclass(frozen=True)
class Rendered:
    """One object of a rendered file."""

    file: Path  # relative to the output root, e.g. clusters/demo/prometheus.yaml
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace: str | None = self.obj["metadata"].get("namespace")
        return namespace

    @property
    def cluster(self) -> str:
        return self.file.parts[1]

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.file}: {self.kind}/{ns}{self.name}"


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_FRESH_RENDER = pytest.StashKey[tuple[Path, BaseException | None]]()


def fresh_render(config: pytest.Config) -> tuple[Path, BaseException | None]:
    """One in-process synth of the shipped clusters per session, and the error if it failed.

    Shared by collection (test_snapshots is parametrised by the files it writes) and the tests.
    """
    if _FRESH_RENDER not in config.stash:
        from promstack.gitops.synth import synth

        out = Path(tempfile.mkdtemp(prefix="promstack-render-"))
        config.add_cleanup(lambda: shutil.rmtree(out, ignore_errors=True))
        error: BaseException | None = None
        try:
            synth(CLUSTERS, out)
        except Exception as exc:  # reported by every test that uses out_dir, not as a collection error
            error = exc
        config.stash[_FRESH_RENDER] = (out, error)
    return config.stash[_FRESH_RENDER]


@pytest.fixture(scope="session")
def out_dir(pytestconfig: pytest.Config) -> Path:
    """A fresh synth of the shipped clusters, in-process."""
    out, error = fresh_render(pytestconfig)
    if error is not None:
        raise error
    return out


@pytest.fixture(scope="session")
def rendered(out_dir: Path) -> list[Rendered]:
    objects = []
    for path in sorted(out_dir.rglob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj:
                objects.append(Rendered(path.relative_to(out_dir), obj))
    return objects


def find(rendered: list[Rendered], cluster: str, kind: str, name: str) -> dict[str, Any]:
    matches = [r.obj for r in rendered if r.cluster == cluster and r.kind == kind and r.name == name]
    assert len(matches) == 1, f"expected one {kind}/{name} in cluster {cluster}, found {len(matches)}"
    return matches[0]


def iter_pod_specs(rendered: list[Rendered]) -> Iterator[tuple[Rendered, dict[str, Any]]]:
    for r in rendered:
        if r.kind in {"Deployment", "StatefulSet", "DaemonSet"}:
            yield r, r.obj["spec"]["template"]
