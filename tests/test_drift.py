"""The committed dist/ is exactly what a fresh synth writes: no stale, missing or edited files."""

from __future__ import annotations

from pathlib import Path

from conftest import DIST, read_tree


def test_committed_dist_equals_fresh_synth(out_dir: Path) -> None:
    fresh, committed = read_tree(out_dir), read_tree(DIST)
    added = sorted(set(fresh) - set(committed))
    deleted = sorted(set(committed) - set(fresh))
    changed = sorted(p for p in set(fresh) & set(committed) if fresh[p] != committed[p])
    assert not (added or deleted or changed), (
        f"dist/ is out of date; run `make synth`, review and commit it.\n"
        f"  new files not in dist/: {added}\n  files in dist/ no longer rendered: {deleted}\n  changed: {changed}"
    )
