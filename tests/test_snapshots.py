"""dist/ is the snapshot store: the snapshot of each rendered file is the committed file itself.

There is one copy of the rendered output, the one a pull request's diff shows. `pytest
--snapshot-update` (or `make synth`) is how a rendering change is accepted: it rewrites the changed
files under dist/, adds new ones and, through syrupy's unused-snapshot handling, deletes the files
of removed clusters or components.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.data import Snapshot, SnapshotCollection, SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension

from conftest import DIST, fresh_render, read_tree

if TYPE_CHECKING:
    from syrupy.location import PyTestLocation
    from syrupy.types import SerializedData, SnapshotIndex

OUT_OF_DATE = ("dist/ is out of date: run `make synth` (or `pytest --snapshot-update`), "
               "review `git diff dist/` and commit it.")


class DistSnapshot(SingleFileSnapshotExtension):
    """Snapshots stored as the files under dist/, byte for byte.

    The test ``test_rendered_file_matches_snapshot[clusters/demo/prometheus.yaml]`` has the snapshot
    ``dist/clusters/demo/prometheus.yaml``: its id is the file's path relative to dist/. Every file
    under dist/ is a snapshot of this test, so a file that is no longer rendered is an unused
    snapshot (a failed session, deleted by ``--snapshot-update``).
    """

    file_extension = "yaml"
    test_name = "test_rendered_file_matches_snapshot"

    @classmethod
    def _relpath(cls, test_location: PyTestLocation) -> str:
        prefix = f"{cls.test_name}["
        name = str(test_location.nodename)
        assert name.startswith(prefix) and name.endswith("]"), f"{name} is not a {cls.test_name}[<path under dist/>]"
        return name[len(prefix):-1]

    @classmethod
    def _name(cls, relpath: str) -> str:
        return f"{cls.test_name}[{relpath}]"

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return cls._name(cls._relpath(test_location))

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return str(DIST / cls._relpath(test_location))

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(DIST)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(DIST)

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        return Path(snapshot_location) == DIST / cls._relpath(test_location)

    def discover_snapshots(self, *, test_location: PyTestLocation,
                           ignore_extensions: list[str] | None = None) -> SnapshotCollections:
        """Every file under dist/, whatever its name: all of dist/ is rendered output."""
        discovered = SnapshotCollections()
        for relpath in read_tree(DIST):
            discovered.add(self.read_snapshot_collection(snapshot_location=str(DIST / relpath)))
        return discovered

    def read_snapshot_collection(self, *, snapshot_location: str) -> SnapshotCollection:
        collection = SnapshotCollection(location=snapshot_location)
        collection.add(Snapshot(name=self._name(str(Path(snapshot_location).relative_to(DIST)))))
        return collection

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        """Delete the file and the folders it leaves empty (a removed cluster's), never dist/ itself."""
        path = Path(snapshot_location)
        path.unlink()
        for folder in path.parents:
            if folder == DIST or not folder.is_relative_to(DIST) or any(folder.iterdir()):
                break
            folder.rmdir()

    def diff_lines(self, serialized_data: SerializedData, snapshot_data: SerializedData) -> Iterator[str]:
        yield OUT_OF_DATE if snapshot_data else f"A new rendered file, not in dist/. {OUT_OF_DATE}"
        yield from super().diff_lines(_text(serialized_data), _text(snapshot_data))


def _text(data: SerializedData) -> SerializedData:
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


@pytest.fixture
def dist_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(DistSnapshot)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One test per file a fresh synth writes, so a new file is a test without a snapshot (fails;
    # --snapshot-update writes it) and a file it no longer writes is an unused snapshot. If the
    # synth fails, the committed files stand in and each test reports the error.
    if "relpath" in metafunc.fixturenames:
        out, error = fresh_render(metafunc.config)
        files = sorted(read_tree(DIST if error else out))
        metafunc.parametrize("relpath", files, ids=files)


def test_rendered_file_matches_snapshot(relpath: str, out_dir: Path, dist_snapshot: SnapshotAssertion) -> None:
    assert (out_dir / relpath).read_bytes() == dist_snapshot
