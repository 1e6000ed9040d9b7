"""The gate's ``upgrade`` check (``promstack validate --base REF``): can dist/ sync onto what REF deployed?

Compares every object of dist/ in the working tree with the same object in dist/ at the git
revision REF, as ``promstack diff`` does, and reports each change to a field Kubernetes refuses to
update (promstack.validate.immutable) as a finding: a sync of such a change fails until the object
is recreated, so CI refuses it before it is merged.
"""

from __future__ import annotations

from pathlib import Path

from promstack import diff
from promstack.validate.findings import UPGRADE, Finding
from promstack.validate.gate import UsageError
from promstack.validate.loader import InputError

__all__ = ["UPGRADE", "upgrade_findings"]


def upgrade_findings(dist: Path, ref: str) -> list[Finding]:
    """One finding per immutable-field change from ``dist`` at ``ref`` to ``dist`` now.

    UsageError for a bad revision or a folder outside git; InputError (every problem, one per line)
    for manifests of either side that cannot be read.
    """
    problems: list[str] = []
    try:
        old = diff.read_revision(dist, ref, problems)
        new = diff.read_worktree(dist, problems)
        rel = diff.locate(dist)[1]
        sources: dict[diff.ObjectKey, str] = {}
        report = diff.diff_trees(old, new, old_label=f"{ref}:" + ("" if rel == "." else f"{rel}/"),
                                 new_label=f"{dist.as_posix()}/", sources=sources)
    except diff.UsageError as exc:
        raise UsageError(f"--base: {exc}") from None
    except diff.InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError("; ".join(problems))
    return [
        Finding(file=sources[change.key], kind=change.key.kind, namespace=change.key.namespace, name=change.key.name,
                path=refused.path, message=refused.message, check=UPGRADE)
        for change in report.changes
        for refused in change.immutable
    ]
