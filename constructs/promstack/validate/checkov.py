"""checkov (the Kubernetes policy scanner) over rendered cluster folders, its results per object.

checkov lives in its own virtualenv (``.venv-checkov``, from requirements-checkov.txt: its many
pinned dependencies would clash with the project's), so it runs as a program: one process per
folder, all at once, each with ``--framework kubernetes -o json --skip-download`` (no network).
Its resource ids are ``Kind.namespace.name`` (``default`` for cluster-scoped objects) and, for the
Pods its graph checks derive from a workload's template, the pod labels after the name; both are
read back as the object's ``kind/namespace/name``, a template's Pod as its workload's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: Where ``make checkov`` installs it, relative to the repository root.
CHECKOV = Path(".venv-checkov") / "bin" / "checkov"
WORKLOAD_KINDS = ("CronJob", "DaemonSet", "Deployment", "Job", "ReplicaSet", "StatefulSet")


@dataclass(frozen=True)
class Check:
    """One check result on one object: ``object`` is ``kind/namespace/name`` (no namespace: ``kind/name``)."""

    check_id: str
    name: str
    object: str
    file: str
    reason: str = ""


@dataclass
class Scan:
    """checkov's results over one folder, and how long it took."""

    folder: Path
    failed: list[Check] = field(default_factory=list)
    skipped: list[Check] = field(default_factory=list)
    passed: int = 0
    seconds: float = 0.0


def object_name(resource: str) -> str:
    """``kind/namespace/name`` from a checkov resource id (``Pod.ns.name.app.kubernetes.io/name-x...``)."""
    kind, _, rest = resource.partition(".")
    namespace, _, name = rest.partition(".")
    name = name.split(".app.kubernetes.io/", 1)[0]
    if kind == "Pod" and namespace:  # a workload's pod template: same name as its workload
        return f"{kind}/{namespace}/{name}"
    return f"{kind}/{name}" if namespace == "default" else f"{kind}/{namespace}/{name}"


def _checks(results: list[dict[str, Any]], folder: Path) -> list[Check]:
    found = []
    for result in results:
        path = str(result.get("file_path", "")).lstrip("/")
        found.append(Check(str(result["check_id"]), str(result.get("check_name", "")),
                           object_name(str(result.get("resource", ""))), path,
                           str((result.get("check_result") or {}).get("suppress_comment") or "")))
    return sorted(found, key=lambda c: (c.object, c.check_id))


def parse(output: str, folder: Path) -> Scan:
    """A Scan from checkov's JSON output for ``folder``."""
    data = json.loads(output)
    reports = data if isinstance(data, list) else [data]
    scan = Scan(folder)
    passed: list[Check] = []
    for report in reports:
        results = report.get("results") or {}
        scan.failed += _checks(results.get("failed_checks") or [], folder)
        scan.skipped += _checks(results.get("skipped_checks") or [], folder)
        passed += _checks(results.get("passed_checks") or [], folder)
        scan.passed += int((report.get("summary") or {}).get("passed", 0))
    # A template's Pod is its workload's: the one workload of that namespace and name.
    workloads: dict[str, set[str]] = {}
    for check in (*scan.failed, *scan.skipped, *passed):
        kind, _, rest = check.object.partition("/")
        if kind in WORKLOAD_KINDS:
            workloads.setdefault(rest, set()).add(check.object)

    def owner(check: Check) -> Check:
        kind, _, rest = check.object.partition("/")
        found = workloads.get(rest, set())
        return replace(check, object=next(iter(found))) if kind == "Pod" and len(found) == 1 else check

    scan.failed = sorted(map(owner, scan.failed), key=lambda c: (c.object, c.check_id))
    scan.skipped = sorted(map(owner, scan.skipped), key=lambda c: (c.object, c.check_id))
    return scan


def scan(folders: Sequence[Path], checkov: Path = CHECKOV) -> list[Scan]:
    """checkov over each folder, the processes run side by side; RuntimeError when one does not
    produce a report (checkov exits 1 on failed checks, which is a report)."""
    if not checkov.exists():
        raise RuntimeError(f"{checkov}: not installed; run `make checkov` (a virtualenv of its own)")
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    procs = [(folder, subprocess.Popen(
        [str(checkov), "-d", str(folder), "--framework", "kubernetes", "-o", "json", "--skip-download"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)) for folder in folders]
    scans = []
    for folder, proc in procs:
        out, err = proc.communicate()
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"checkov on {folder} exited {proc.returncode}: {err.strip()[-2000:]}")
        result = parse(out, folder)
        result.seconds = time.monotonic() - started
        scans.append(result)
    return scans
