"""One YAML snapshot per rendered file: a PR's snapshot diff is the review of what changes in the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension

from conftest import DIST, read_tree


class YamlSnapshot(SingleFileSnapshotExtension):
    """Raw bytes in a .yaml file, so the snapshot is byte-identical to the rendered file."""

    file_extension = "yaml"


@pytest.fixture
def snapshot_yaml(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(YamlSnapshot)


def _files() -> list[str]:
    # Parametrised from the committed dist/ so every file has its own, reviewable snapshot;
    # test_drift guarantees dist/ holds exactly what a fresh synth writes.
    return sorted(read_tree(DIST))


@pytest.mark.parametrize("relpath", _files(), ids=lambda p: p.replace("/", "_").removesuffix(".yaml"))
def test_rendered_file_matches_snapshot(relpath: str, out_dir: Path, snapshot_yaml: SnapshotAssertion) -> None:
    assert (out_dir / relpath).read_bytes() == snapshot_yaml
