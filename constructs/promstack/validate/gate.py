"""The gate: load units, run every check on each, collect the findings."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promstack.validate import amtool, policy, promtool, reachability, schemas, wiring
from promstack.validate.findings import Finding
from promstack.validate.loader import InputError, Unit, load_units
from promstack.validate.report import ordered


class UsageError(Exception):
    """Bad arguments or a missing tool (exit 2)."""


@dataclass
class Result:
    """Findings plus what was looked at, for the summary line."""

    findings: list[Finding]
    units: list[Unit] = field(default_factory=list)
    versions: tuple[str, ...] = ()


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


#: From this many units (clusters) on, the per-unit checks use every core.
PARALLEL_FROM = 8
_UNITS: tuple[Sequence[Unit], tuple[str, ...], Collection[str], str | None] | None = None


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
                binary: str | None) -> list[Finding]:
    """Every check of one unit; InputError, never a partial result, when one runs out of stack."""
    try:
        return _unit_findings(unit, chosen, allowed_kinds, binary)
    except RecursionError:
        deepest = max(unit.documents, key=lambda d: _depth(d.obj), default=None)
        where = f"{deepest.file} ({deepest.location})" if deepest else unit.name
        raise InputError(f"{where}: nested too deeply to check: flatten it") from None


def _unit_findings(unit: Unit, chosen: tuple[str, ...], allowed_kinds: Collection[str],
                   binary: str | None) -> list[Finding]:
    """Every check of one unit; promtool only when ``binary`` is given."""
    custom = schemas.unit_crds(unit.documents)
    findings = schemas.check_schemas(unit.documents, chosen, allowed_kinds=allowed_kinds, custom_kinds=custom)
    findings += wiring.check_wiring(unit.objects, custom)
    findings += policy.check_policy(unit.objects)
    findings += reachability.check_reachability(unit.objects)
    if binary is not None:
        findings += promtool.check_prometheus(unit.objects, binary)
        findings += amtool.check_alertmanager(unit.objects, amtool.find_amtool())
    findings += policy.scan_private_keys((f, Path(f)) for f in unit.files)
    return findings


def _check_share(share: tuple[int, int]) -> list[Finding]:
    """Every ``jobs``-th unit starting at ``index`` (in a forked worker, or in-process)."""
    assert _UNITS is not None
    units, chosen, allowed_kinds, binary = _UNITS
    index, jobs = share
    return [f for unit in units[index::jobs] for f in _check_unit(unit, chosen, allowed_kinds, binary)]


def run(
    paths: Sequence[str | Path],
    *,
    versions: Iterable[str] | None = None,
    tracked_repo: str | Path | None = None,
    run_promtool: bool = True,
    promtool_binary: str | None = None,
    allowed_kinds: Collection[str] = (),
) -> Result:
    """Validate ``paths``; see ``validate_paths``. Also returns the units and versions used."""
    chosen = resolve_versions(versions)
    binary = None
    if run_promtool:
        try:
            binary = promtool.find_promtool(promtool_binary)
            amtool.find_amtool()
        except (promtool.PromtoolMissing, amtool.AmtoolMissing) as exc:
            raise UsageError(str(exc)) from exc
    units = load_units(paths)
    findings: list[Finding] = []
    scanned: set[Path] = set()
    # For a fleet, one forked process per core checks an interleaved share of the units.
    global _UNITS  # inherited by the forked workers: units are never pickled
    jobs = min(os.cpu_count() or 1, len(units)) if len(units) >= PARALLEL_FROM else 1
    _UNITS = (units, chosen, allowed_kinds, binary)
    try:
        if jobs > 1:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                shares = pool.map(_check_share, [(i, jobs) for i in range(jobs)])
        else:
            shares = [_check_share((0, 1))]
    finally:
        _UNITS = None
    for part in shares:
        findings += part
    for unit in units:
        scanned.update(Path(f).resolve() for f in unit.files)
    if tracked_repo is not None:
        try:
            tracked = policy.tracked_files(Path(tracked_repo))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        findings += policy.scan_private_keys((s, p) for s, p in tracked if p.resolve() not in scanned)
    return Result(ordered(findings), units, chosen)


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
