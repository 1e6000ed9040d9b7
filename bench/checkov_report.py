"""checkov's failed and skipped checks per object of every rendered cluster, and checkov's run time.

    python bench/checkov_report.py [DIST] [--rev REV]... [--reasons]

DIST (default dist/) is scanned as committed in the work tree; each ``--rev`` (a commit, branch or
tag) scans that revision's dist/ instead, taken with ``git archive`` into a scratch folder, so a
before/after comparison is one command: ``python bench/checkov_report.py --rev main --rev HEAD``.
``make checkov-report`` runs it on the work tree. ``--reasons`` also prints each skip's reason.
Prints a table per cluster (objects with a failed or skipped check); asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from promstack.validate.checkov import CHECKOV, Scan, scan

ROOT = Path(__file__).resolve().parent.parent


def _table(result: Scan, reasons: bool) -> list[str]:
    failed: dict[str, list[str]] = defaultdict(list)
    skipped: dict[str, list[str]] = defaultdict(list)
    for check in result.failed:
        failed[check.object].append(check.check_id)
    for check in result.skipped:
        skipped[check.object].append(check.check_id)
    objects = sorted(set(failed) | set(skipped))
    width = max([len(o) for o in objects] + [6])
    lines = [f"  {'object':<{width}}  failed  skipped  failed checks | skipped checks"]
    for obj in objects:
        lines.append(f"  {obj:<{width}}  {len(failed[obj]):>6}  {len(skipped[obj]):>7}  "
                     f"{' '.join(sorted(failed[obj])) or '-'} | {' '.join(sorted(skipped[obj])) or '-'}")
    lines.append(f"  {'total':<{width}}  {len(result.failed):>6}  {len(result.skipped):>7}  "
                 f"({result.passed} passed)")
    if reasons:
        for check in result.skipped:
            lines.append(f"    {check.object} {check.check_id}: {check.reason}")
    return lines


def report(dist: Path, label: str, reasons: bool) -> None:
    clusters = sorted(p for p in (dist / "clusters").iterdir() if p.is_dir())
    started = time.monotonic()
    scans = scan(clusters, ROOT / CHECKOV)
    elapsed = time.monotonic() - started
    print(f"== {label}: checkov over {len(clusters)} cluster folder(s) in {elapsed:.1f}s (side by side)")
    for result in scans:
        print(f"-- {result.folder.name}")
        print("\n".join(_table(result, reasons)))


def _archive(rev: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "dist"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "dist"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist", nargs="?", type=Path, default=ROOT / "dist")
    parser.add_argument("--rev", action="append", default=[], help="scan this git revision's dist/ (repeatable)")
    parser.add_argument("--reasons", action="store_true", help="print each skip's reason")
    args = parser.parse_args(argv)
    if not args.rev:
        report(args.dist, str(args.dist), args.reasons)
    for rev in args.rev:
        with tempfile.TemporaryDirectory(prefix="checkov-report-") as scratch:
            report(_archive(rev, Path(scratch)), rev, args.reasons)
    return 0


if __name__ == "__main__":
    sys.exit(main())
