"""The gate: load units, run every check on each, collect the findings."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promstack.validate import amtool, policy, promtool, reachability, schemas, wiring
from promstack.validate.findings import Finding
from promstack.validate.loader import InputError, PlannedUnit, Unit, load_file, plan_units
from promstack.validate.report import ordered


class UsageError(Exception):
    """Bad arguments or a missing tool (exit 2)."""


@dataclass
class Result:
    """Findings plus what was looked at, for the summary line.

    ``units``: the name of each unit checked; ``objects``: how many objects they hold;
    ``flows``: with ``run(flows=True)``, each unit's ``reachability.flow_report`` lines, as
    ``<unit>: <line>``.
    """

    findings: list[Finding]
    units: list[str] = field(default_factory=list)
    versions: tuple[str, ...] = ()
    objects: int = 0
    flows: list[str] = field(default_factory=list)


def resolve_versions(versions: Iterable[str] | None) -> tuple[str, ...]:
    """Requested minors, normalized and ascending; all supported minors when None or empty."""
    supported = schemas.supported_versions()
    if not versions:
        return supported
    try:
        chosen = {schemas.normalize_version(v) for v in versions}
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return tuple(v for v in supported if v in chosen)


#: From this many units (clusters) on, the units are read and checked on every core.
PARALLEL_FROM = 8
_WORK: tuple[Sequence[PlannedUnit], tuple[str, ...], Collection[str], str | None, bool] | None = None


@dataclass
class _Checked:
    """What reading and checking one unit gave (sent back from a worker): findings, or the error
    that stops the run. ``load_error`` carries the reading position of the file that failed."""

    index: int
    objects: int = 0
    findings: list[Finding] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    load_error: tuple[int, InputError] | None = None
    check_error: Exception | None = None


def _depth(value: object) -> int:
    """Nesting depth of a loaded document (collections; a top-level mapping is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _check_unit(unit: Unit, chosen: tuple[str, ...], allowed_kinds: Collection[str],
                binary: str | None, pending: list[promtool.PendingConfig] | None = None) -> list[Finding]:
    """Every check of one unit; InputError, never a partial result, when one runs out of stack.

    With ``pending``, its ``promtool check config`` runs are left there for ``promtool.run_configs``."""
    try:
        return _unit_findings(unit, chosen, allowed_kinds, binary, pending)
    except RecursionError:
        deepest = max(unit.documents, key=lambda d: _depth(d.obj), default=None)
        where = f"{deepest.file} ({deepest.location})" if deepest else unit.name
        raise InputError(f"{where}: nested too deeply to check: flatten it") from None


def _unit_findings(unit: Unit, chosen: tuple[str, ...], allowed_kinds: Collection[str],
                   binary: str | None, pending: list[promtool.PendingConfig] | None = None) -> list[Finding]:
    """Every check of one unit; promtool only when ``binary`` is given."""
    custom = schemas.unit_crds(unit.documents)
    findings = schemas.check_schemas(unit.documents, chosen, allowed_kinds=allowed_kinds, custom_kinds=custom)
    findings += wiring.check_wiring(unit.objects, custom)
    findings += policy.check_policy(unit.objects)
    findings += reachability.check_reachability(unit.objects)
    if binary is not None:
        findings += promtool.check_prometheus(unit.objects, binary, pending)
        findings += amtool.check_alertmanager(unit.objects, amtool.find_amtool())
    findings += policy.scan_private_keys((f, Path(f)) for f in unit.files)
    return findings


#: Most units in one share of the work (their ``promtool check config`` runs go to one promtool run).
SHARE_UNITS = 32
#: Shares per worker at least, so that the workers finish close together: the clusters of a fleet
#: differ in size (clusters copied alternately from two examples, every other unit, is a fleet too).
SHARES_PER_JOB = 4


def _shares(units: int, jobs: int) -> list[range]:
    """Consecutive runs of unit indexes, handed out to the workers as they become free."""
    size = max(1, min(SHARE_UNITS, -(-units // (jobs * SHARES_PER_JOB))))
    return [range(start, min(start + size, units)) for start in range(0, units, size)]


def _check_share(share: range) -> tuple[list[_Checked], list[str]]:
    """Read and check the units of ``share`` (in a forked worker, or in-process); also the
    temporary folders left for the caller to remove (``promtool.remove``).

    Each unit is read just before it is checked and dropped after, so a worker holds one unit's
    objects at a time. After the first error no more units are checked, but they are still read:
    a file that cannot be read is reported before a check that failed, as when every file was
    read first. The share's ``promtool check config`` runs wait and run together (promtool
    starts once for many files; each finding still names its file).
    """
    assert _WORK is not None
    planned, chosen, allowed_kinds, binary, flows = _WORK
    out: list[_Checked] = []
    waiting: list[tuple[_Checked, promtool.PendingConfig]] = []
    failed = False
    handed_over = False
    try:
        for i in share:
            plan = planned[i]
            unit = Unit(plan.name, [file for _, file in plan.files])
            load_error = None
            for position, file in plan.files:
                try:
                    unit.documents.extend(load_file(Path(file)))
                except InputError as exc:
                    load_error = (position, exc)
                    break
            if load_error is not None:
                out.append(_Checked(i, load_error=load_error))
                failed = True
            if failed:
                continue
            pending: list[promtool.PendingConfig] = []
            try:
                found = _check_unit(unit, chosen, allowed_kinds, binary, pending)
            except Exception as exc:  # raised by the parent, once it knows no file before it failed to read
                promtool.remove([job.tmp for job in pending])
                out.append(_Checked(i, check_error=exc))
                failed = True
                continue
            lines = [f"{unit.name}: {line}" for line in reachability.flow_report(unit.objects)] if flows else []
            checked = _Checked(i, len(unit.objects), found, lines)
            out.append(checked)
            waiting += [(checked, job) for job in pending]
        if binary is not None and waiting and not failed:
            results = promtool.run_configs(binary, [job for _, job in waiting])
            for (checked, _), more in zip(waiting, results, strict=True):
                checked.findings += more
        handed_over = True
        return out, [job.tmp for _, job in waiting]
    finally:
        if not handed_over:
            promtool.remove([job.tmp for _, job in waiting])


def run(
    paths: Sequence[str | Path],
    *,
    versions: Iterable[str] | None = None,
    tracked_repo: str | Path | None = None,
    run_promtool: bool = True,
    promtool_binary: str | None = None,
    allowed_kinds: Collection[str] = (),
    flows: bool = False,
) -> Result:
    """Validate ``paths``; see ``validate_paths``. Also returns the units and versions used, and
    with ``flows`` every unit's flow report."""
    chosen = resolve_versions(versions)
    binary = None
    if run_promtool:
        try:
            binary = promtool.find_promtool(promtool_binary)
            amtool.find_amtool()
        except (promtool.PromtoolMissing, amtool.AmtoolMissing) as exc:
            raise UsageError(str(exc)) from exc
    planned, listing_error = plan_units(paths)
    if listing_error is not None:
        for _, file in sorted(f for plan in planned for f in plan.files):
            load_file(Path(file))  # a file listed before the problem that cannot be read comes first
        raise listing_error
    # For a fleet, one forked process per core reads and checks shares of the units, one after another.
    global _WORK  # inherited by the forked workers: only the file lists, and never pickled
    jobs = min(os.cpu_count() or 1, len(planned)) if len(planned) >= PARALLEL_FROM else 1
    _WORK = (planned, chosen, allowed_kinds, binary, flows)
    shares: list[list[_Checked]] = []
    try:
        if jobs > 1:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                # The folders of one share are removed here while the workers check the next ones.
                for part, folders in pool.imap_unordered(_check_share, _shares(len(planned), jobs)):
                    shares.append(part)
                    promtool.remove(folders)
        else:
            for share in _shares(len(planned), 1):
                part, folders = _check_share(share)
                shares.append(part)
                promtool.remove(folders)
    finally:
        _WORK = None
    checked = sorted((c for part in shares for c in part), key=lambda c: c.index)
    load_errors = [c.load_error for c in checked if c.load_error is not None]
    if load_errors:
        raise min(load_errors, key=lambda e: e[0])[1]
    for c in checked:
        if c.check_error is not None:
            raise c.check_error
    findings: list[Finding] = [f for c in checked for f in c.findings]
    scanned = {Path(file).resolve() for plan in planned for _, file in plan.files}
    if tracked_repo is not None:
        try:
            tracked = policy.tracked_files(Path(tracked_repo))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        findings += policy.scan_private_keys((s, p) for s, p in tracked if p.resolve() not in scanned)
    return Result(ordered(findings), [plan.name for plan in planned], chosen,
                  sum(c.objects for c in checked), [line for c in checked for line in c.flows])


def validate_paths(
    paths: Sequence[str | Path],
    *,
    versions: Iterable[str] | None = None,
    tracked_repo: str | Path | None = None,
    run_promtool: bool = True,
    promtool_binary: str | None = None,
    allowed_kinds: Collection[str] = (),
) -> list[Finding]:
    """Every finding for the manifests under ``paths`` (files or folders), sorted and unique.

    ``versions``: Kubernetes minors to validate against (default: every supported minor).
    ``tracked_repo``: also scan every git-tracked file of this repository for private keys
    (default: only the manifests). ``run_promtool``: check Prometheus configs and rules with
    promtool (default True; ``promtool_binary`` default: ``promtool`` on PATH).
    ``allowed_kinds``: ``apiVersion/Kind`` strings accepted without a schema (default none).

    Raises UsageError (bad version, promtool missing) or loader.InputError (missing path, bad YAML).
    """
    return run(
        paths,
        versions=versions,
        tracked_repo=tracked_repo,
        run_promtool=run_promtool,
        promtool_binary=promtool_binary,
        allowed_kinds=allowed_kinds,
    ).findings
