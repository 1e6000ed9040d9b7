"""dist/ holds exactly the files a fresh synth writes (test_snapshots compares their bytes).

syrupy fails the session on a file of dist/ no test renders any more (an unused snapshot), but
only when the whole suite runs and without --snapshot-warn-unused; this test says it in any run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DIST, read_tree


def test_dist_holds_exactly_the_rendered_files(out_dir: Path, pytestconfig: pytest.Config) -> None:
    if pytestconfig.option.update_snapshots:
        pytest.skip("--snapshot-update adds the new files to dist/ and deletes the stale ones")
    fresh, committed = set(read_tree(out_dir)), set(read_tree(DIST))
    added, deleted = sorted(fresh - committed), sorted(committed - fresh)
    assert not (added or deleted), (
        "dist/ is out of date: run `make synth` (or `pytest --snapshot-update`), review `git diff dist/` "
        f"and commit it.\n  new files not in dist/: {added}\n  files in dist/ no longer rendered: {deleted}"
    )
