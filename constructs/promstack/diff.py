"""`promstack diff`: what a change does to the clusters, object by object.

Compares the rendered ``dist/`` in the working tree (run ``make synth`` first) with ``dist/``
as committed at a git revision (default ``HEAD``). Objects are matched by (cluster folder, API
group, kind, namespace, name), so an object that moves between files is not a change. Output
lists, per cluster folder (and ``bootstrap``), the added, removed and changed objects with the
changed field paths. Sealed values (SealedSecret ``spec.encryptedData``), Secret data, every
``caBundle`` and anything holding a private key are summarised, never printed.

Both sides are read as ``promstack validate`` reads them (Lists expanded, YAML bounded before
it is built). A manifest that cannot be read or is no object with apiVersion, kind and
metadata.name, on either side, is an error: its objects would otherwise show as removed, or
the diff as "no changes".

A change Kubernetes refuses on update (an immutable field: a StatefulSet's volumeClaimTemplates or
selector, a Service's clusterIP, ...; the list is in promstack.validate.immutable) is flagged under
its object as ``immutable: Kubernetes refuses this change; <fix>``: the sync would fail on it.

Exit status: 0 the diff was shown and no change touches an immutable field (whatever else changed);
1 the diff was shown and at least one change touches an immutable field; 2 a usage error (bad
revision, not a git repository) or an input error, each printed on one line; 3 an internal error.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from promstack.config.names import CUSTOM_METRICS_APISERVICES
from promstack.validate import loader
from promstack.validate.findings import PathPart, clip, printable, short
from promstack.validate.findings import format_path as finding_path
from promstack.validate.immutable import Immutable, immutable_changes

MANIFEST_SUFFIXES = loader.MANIFEST_SUFFIXES
#: Lines of a changed multi-line text (a Prometheus config, a dashboard) shown at most.
MAX_TEXT_LINES = 30

_MISSING = object()


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of a rendered object within the output tree."""

    cluster: str  # the cluster folder name, or "bootstrap" / the top folder for other files
    group: str  # API group, "" for the core group
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        ns = f"{self.namespace}/" if self.namespace else ""
        return printable(f"{self.kind}{group} {ns}{self.name}")  # one line, whatever the names hold


@dataclass(frozen=True)
class FieldChange:
    """One changed field: its path, a one-line summary and, for texts, the changed lines."""

    path: str
    summary: str
    lines: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}: {self.summary}"


@dataclass(frozen=True)
class ObjectChange:
    key: ObjectKey
    change: Literal["added", "removed", "changed"]
    fields: tuple[FieldChange, ...] = ()
    #: Changes to fields Kubernetes refuses to update (the sync fails on them).
    immutable: tuple[Immutable, ...] = ()


@dataclass
class Report:
    """Every object change, sorted by cluster and object, plus warnings (an object defined twice)."""

    changes: list[ObjectChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per cluster, a headline shown above its objects: the autoscaling provider switch.
    headlines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.warnings

    def by_cluster(self) -> dict[str, list[ObjectChange]]:
        grouped: dict[str, list[ObjectChange]] = {}
        for change in self.changes:
            grouped.setdefault(change.key.cluster, []).append(change)
        return grouped

    @property
    def immutable(self) -> int:
        """How many changes Kubernetes refuses (immutable fields)."""
        return sum(len(c.immutable) for c in self.changes)

    def summary(self) -> str:
        counts = {k: sum(c.change == k for c in self.changes) for k in ("added", "removed", "changed")}
        text = ", ".join(f"{n} {k}" for k, n in counts.items())
        return text + (f"; {self.immutable} change(s) to immutable fields" if self.immutable else "")

    def render_text(self) -> str:
        if self.empty:
            return "no changes\n"
        out: list[str] = []
        for cluster, changes in self.by_cluster().items():
            out.append(f"{cluster}:")
            out.extend(f"  {line}" for line in self.headlines.get(cluster, []))
            for change in changes:
                out.append(f"  {change.change} {change.key}")
                for fc in change.fields:
                    out.append(f"    {fc}")
                    out.extend(f"      {line}" for line in fc.lines)
                out.extend(f"    {im.path}: {im.message}" for im in change.immutable)
        out.extend(f"warning: {p}" for p in self.warnings)
        out.append(self.summary())
        return "\n".join(out) + "\n"

    def render_markdown(self) -> str:
        out = ["## promstack diff", ""]
        if self.empty:
            return "\n".join([*out, "No changes to the rendered manifests.", ""])
        out += [f"{self.summary()}.", ""]
        if self.immutable:
            out += [f"**{self.immutable} change(s) to immutable fields: Kubernetes refuses them and the sync "
                    "fails until each is fixed as noted.**", ""]
        for cluster, changes in self.by_cluster().items():
            out += [f"### {cluster}", ""]
            out += [f"**{_md(line)}**" for line in self.headlines.get(cluster, [])]
            out += [""] if cluster in self.headlines else []
            for change in changes:
                out.append(f"- **{change.change}** `{change.key}`")
                for fc in change.fields:
                    out.append(f"  - `{fc.path}`: {_md(fc.summary)}")
                    if fc.lines:
                        out += ["", "    ```diff", *(f"    {line}" for line in fc.lines), "    ```", ""]
                out += [f"  - **immutable** `{im.path}`: {im.message}" for im in change.immutable]
            out.append("")
        if self.warnings:
            out += ["### warnings", "", *(f"- {_md(p)}" for p in self.warnings), ""]
        return "\n".join(out)


def _md(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


def format_path(parts: tuple[PathPart, ...]) -> str:
    """``spec.template.spec.containers[0].args[3]``; odd keys as ``metadata.labels["a/b"]``: the gate's
    one spelling of a field path (``(object)`` for a whole object)."""
    return finding_path(parts) if parts else "(object)"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if isinstance(value, dict | list):
        if len(text) <= limit and "caBundle" not in text and "PRIVATE KEY" not in text:
            return text
        return f"{{{len(value)} keys}}" if isinstance(value, dict) else f"[{len(value)} items]"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sensitive(obj: dict[str, Any], parts: tuple[PathPart, ...]) -> str | None:
    """A summary word for values never printed, else None."""
    kind = obj.get("kind")
    if kind == "SealedSecret" and parts[:2] == ("spec", "encryptedData"):
        return "ciphertext"
    if kind == "Secret" and parts[:1] in (("data",), ("stringData",)):
        return "secret value"
    if any(p == "caBundle" for p in parts):
        return "certificate"
    return None


def _holds_key(value: Any) -> bool:
    return isinstance(value, str) and "PRIVATE KEY" in value


def _value_change(obj: dict[str, Any], parts: tuple[PathPart, ...], old: Any, new: Any,
                  missing: object) -> FieldChange:
    path = format_path(parts)
    what = "added" if old is missing else "removed" if new is missing else "changed"
    secret = _sensitive(obj, parts)
    if secret is None and (_holds_key(old) or _holds_key(new)):
        secret = "private key"
    if secret is not None:
        return FieldChange(path, f"<{secret} {what}>")
    if what == "added":
        return FieldChange(path, f"added {_short(new)}")
    if what == "removed":
        return FieldChange(path, f"removed (was {_short(old)})")
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        diff = [
            line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))
        ]
        added = sum(line.startswith("+") for line in diff)
        more = (f"... {len(diff) - MAX_TEXT_LINES} more",) if len(diff) > MAX_TEXT_LINES else ()
        shown = tuple(diff[:MAX_TEXT_LINES]) + more
        return FieldChange(path, f"text changed (+{added} -{len(diff) - added} lines)", shown)
    return FieldChange(path, f"{_short(old)} -> {_short(new)}")


def _walk(obj: dict[str, Any], parts: tuple[PathPart, ...], old: Any, new: Any) -> Iterator[FieldChange]:
    missing = _MISSING
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from _walk(obj, (*parts, key), old.get(key, missing), new.get(key, missing))
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _walk(obj, (*parts, i), old[i] if i < len(old) else missing,
                             new[i] if i < len(new) else missing)
    elif old is missing and new is missing:
        return
    elif old != new:
        yield _value_change(obj, parts, old, new, missing)


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every changed leaf between two versions of one object (lists compared by index)."""
    return list(_walk(new, (), old, new))


def _cluster_of(path: str) -> str:
    parts = PurePosixPath(path).parts
    if len(parts) >= 3 and parts[0] == "clusters":
        return parts[1]
    return parts[0] if len(parts) > 1 else "(top level)"


class InputError(Exception):
    """Manifests that cannot be compared: every problem of both sides, one line each (exit 2)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _object_problem(doc: loader.Document) -> str | None:
    """Why a document cannot be matched by identity, with the fix; None when it can."""
    if not isinstance(doc.obj, dict):
        return f"not a Kubernetes object (got {short(doc.obj, 40)}): fix or remove it"
    missing = [f for f in ("apiVersion", "kind") if not isinstance(doc.obj.get(f), str) or not doc.obj[f]]
    if not isinstance(doc.obj.get("metadata"), dict) or not isinstance(doc.metadata.get("name"), str) or not doc.name:
        missing.append("metadata.name")
    elif not isinstance(doc.metadata.get("namespace", ""), str):
        return "metadata.namespace is not a string: fix it"
    return f"{', '.join(missing)} missing or not a string: fix it" if missing else None


def parse_tree(
    files: dict[str, bytes], label: str = "", warnings: list[str] | None = None,
    sources: dict[ObjectKey, str] | None = None,
) -> dict[ObjectKey, dict[str, Any]]:
    """Objects of every manifest file in ``files`` (paths relative to dist/), by identity.

    ``label`` prefixes each path in messages (``HEAD:dist/``). Raises InputError listing every
    file that is not UTF-8 or YAML, a document that is not an object with apiVersion, kind and
    metadata.name, or a duplicate key; an object defined twice is a warning (the last one is compared).
    ``sources``, when given, receives each object's file (as shown, with ``label``).
    """
    objects: dict[ObjectKey, dict[str, Any]] = {}
    problems: list[str] = []
    for path in sorted(files):
        if not path.endswith(MANIFEST_SUFFIXES):
            continue
        shown = printable(label + path)
        try:
            parsed = loader.parse_text(loader.decode(files[path], shown), shown)
        except loader.InputError as exc:
            problems.append(str(exc))
            continue
        for i, document in enumerate(parsed):
            if document.data is None:
                continue
            issues = [(k.path, k.message) for k in document.issues if k.duplicate]
            for doc in loader.expand(shown, i, document.data, issues):
                where = f"{shown}: {doc.location}"
                problems += [f"{where}: {finding_path(p)}: {m}" for p, m in doc.issues]
                if doc.envelope:
                    items = doc.obj.get("items")
                    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                        problems.append(f"{where}: a {clip(doc.kind, 40)} whose items are not all objects: fix it")
                    continue
                if problem := _object_problem(doc):
                    problems.append(f"{where}: {problem}")
                    continue
                key = ObjectKey(_cluster_of(path), doc.group, doc.kind, doc.namespace, doc.name)
                if key in objects and warnings is not None:
                    warnings.append(f"{shown}: {key} appears twice in {key.cluster}; the last one is compared")
                objects[key] = doc.obj
                if sources is not None:
                    sources[key] = shown
    if problems:
        raise InputError(problems)
    return objects


def diff_trees(old: dict[str, bytes], new: dict[str, bytes], old_label: str = "base:", new_label: str = "",
               sources: dict[ObjectKey, str] | None = None) -> Report:
    """Compare two output trees, each as {path relative to dist/: file content}.

    ``sources``, when given, receives the file of each object of ``new``.

    Raises InputError with the problems of both sides when either cannot be read whole.
    """
    report = Report()
    problems: list[str] = []
    before: dict[ObjectKey, dict[str, Any]] = {}
    after: dict[ObjectKey, dict[str, Any]] = {}
    try:
        before = parse_tree(old, old_label, report.warnings)
    except InputError as exc:
        problems += exc.problems
    try:
        after = parse_tree(new, new_label, report.warnings, sources)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    for key in sorted(set(before) | set(after)):
        if key not in before:
            report.changes.append(ObjectChange(key, "added"))
        elif key not in after:
            report.changes.append(ObjectChange(key, "removed"))
        else:
            fields = field_changes(before[key], after[key])
            if fields:
                refused = immutable_changes(key.group, key.kind, key.namespace, key.name, before[key], after[key])
                report.changes.append(ObjectChange(key, "changed", tuple(fields), tuple(refused)))
    report.headlines = provider_headlines(before, after)
    return report


#: What each autoscaling provider renders: the adapter's APIServices, KEDA's ScaledObjects.
_ADAPTER_APISERVICES = frozenset(CUSTOM_METRICS_APISERVICES)
_MOVE_HINT = "see the README's \"Moving from prometheus-adapter to KEDA\""


def autoscaling_provider(keys: Iterable[ObjectKey]) -> str:
    """The autoscaling provider a cluster's objects show: ``prometheus-adapter`` (its APIService),
    ``keda`` (ScaledObjects), both while a move keeps the adapter, or ``none``."""
    keys = list(keys)
    adapter = any((k.group, k.kind) == ("apiregistration.k8s.io", "APIService") and k.name in _ADAPTER_APISERVICES
                  for k in keys)
    keda = any((k.group, k.kind) == ("keda.sh", "ScaledObject") for k in keys)
    return {(True, True): "prometheus-adapter + keda", (True, False): "prometheus-adapter",
            (False, True): "keda", (False, False): "none"}[(adapter, keda)]


def provider_headlines(before: dict[ObjectKey, Any], after: dict[ObjectKey, Any]) -> dict[str, list[str]]:
    """``autoscaling provider: OLD -> NEW`` for each cluster present on both sides whose provider
    changes, with a warning when a move skips the step in which both run."""
    headlines: dict[str, list[str]] = {}
    for cluster in sorted({k.cluster for k in before} & {k.cluster for k in after}):
        old = autoscaling_provider(k for k in before if k.cluster == cluster)
        new = autoscaling_provider(k for k in after if k.cluster == cluster)
        if old == new:
            continue
        lines = [f"autoscaling provider: {old} -> {new}"]
        if {old, new} == {"prometheus-adapter", "keda"}:
            lines.append(f"warning: the adapter goes in the same sync as KEDA takes over; move a live cluster in "
                         f"two commits (autoscaling.keepAdapter first), {_MOVE_HINT}")
        headlines[cluster] = lines
    return headlines


class UsageError(Exception):
    """Bad revision, missing git or a folder outside the repository (exit 2)."""


def _report(problems: list[str], collect: list[str] | None) -> None:
    if problems and collect is None:
        raise InputError(problems)
    if collect is not None:
        collect += problems


def read_worktree(dist: Path, problems: list[str] | None = None) -> dict[str, bytes]:
    """Every manifest under ``dist`` (empty when it does not exist), read as the gate reads them.

    A folder that cannot be listed, a symlink loop, or a manifest that is not a regular file,
    cannot be read or is too large is a problem: appended to ``problems`` when given (the
    other files are still read), else raised as InputError.
    """
    if not dist.is_dir():
        return {}
    found: list[str] = []
    files: dict[str, bytes] = {}
    try:
        paths = loader.manifest_files(dist)
    except loader.InputError as exc:
        paths = []
        found.append(str(exc))
    for path in paths:
        try:
            files[path.relative_to(dist).as_posix()] = loader.read_bytes(path)
        except loader.InputError as exc:
            found.append(str(exc))
    _report(found, problems)
    return files


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args[:2])}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def locate(dist: Path) -> tuple[Path, str]:
    """The repository holding ``dist`` and ``dist``'s path in it (``.`` for its top)."""
    dist = dist.resolve()
    anchor = dist if dist.is_dir() else dist.parent
    top = Path(_git(anchor, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    try:
        return top, dist.relative_to(top).as_posix()
    except ValueError:
        raise UsageError(f"{dist} is outside the git repository {top}") from None


def read_revision(dist: Path, ref: str, problems: list[str] | None = None) -> dict[str, bytes]:
    """Every manifest under ``dist`` as committed at ``ref`` (empty when dist/ did not exist there).

    A manifest that is no regular file in git (a symlink, a submodule) or is too large is a
    problem, collected or raised as in ``read_worktree``; UsageError for a bad revision.
    """
    top, rel = locate(dist)
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(f"{ref!r} is not a commit of {top}; pass --base with a branch, tag or commit") from None
    entries = [e for e in _git(top, "ls-tree", "-r", "-z", "--long", ref, "--", rel).decode("utf-8", "surrogateescape")
               .split("\0") if e]
    names: list[str] = []
    found: list[str] = []
    for entry in entries:
        meta, _, name = entry.partition("\t")
        mode, kind, _, size = meta.split()
        shown = printable(f"{ref}:{name}")
        if not name.endswith(MANIFEST_SUFFIXES):
            continue
        if kind != "blob" or mode not in ("100644", "100755"):
            what = "a symlink" if mode == "120000" else f"a {kind}"
            found.append(f"{shown}: {what} in git, not a regular file: commit the manifest itself")
        else:
            try:
                loader.check_size(shown, int(size))
                names.append(name)
            except loader.InputError as exc:
                found.append(str(exc))
    _report(found, problems)
    if not names:
        return {}
    # One `git cat-file --batch` for all blobs instead of one `git show` per file.
    stdin = "".join(f"{ref}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
    out, files, pos = _git(top, "cat-file", "--batch", stdin=stdin), {}, 0
    for name in names:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if len(header) != 3:
            raise UsageError(f"git cat-file could not read {printable(ref)}:{printable(name)}")
        length = int(header[2])
        files[PurePosixPath(name).relative_to(rel).as_posix()] = out[header_end + 1 : header_end + 1 + length]
        pos = header_end + 1 + length + 1
    return files


def run_diff(args: argparse.Namespace) -> int:
    dist = Path(args.dist)
    problems: list[str] = []
    report = None
    try:
        old = read_revision(dist, args.base, problems)
        new = read_worktree(dist, problems)
        rel = locate(dist)[1]
        base = f"{args.base}:" + ("" if rel == "." else f"{rel}/")  # as git names it: HEAD:dist/...
        report = diff_trees(old, new, old_label=base, new_label=f"{dist.as_posix()}/")
    except UsageError as exc:
        print(f"promstack diff: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except InputError as exc:
        problems += exc.problems
    except Exception as exc:  # a bug must not look like a diff
        print(f"promstack diff: internal error: {type(exc).__name__}: {clip(str(exc), 100)} "
              "(a bug, not a result: please report it)", file=sys.stderr)
        return 3
    if problems or report is None:
        for problem in problems:
            print(f"promstack diff: error: {printable(problem)}", file=sys.stderr)
        print(f"promstack diff: {len(problems)} problem(s) reading the manifests: nothing compared", file=sys.stderr)
        return 2
    sys.stdout.write(report.render_markdown() if args.format == "markdown" else report.render_text())
    return 1 if report.immutable else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="text (default) or markdown for a pull request comment")
    parser.add_argument("--dist", default="dist", help="rendered output folder (default dist)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `diff` to the `promstack` command's subparsers."""
    parser = subparsers.add_parser(
        "diff", help="objects added, removed and changed in dist/ since a git revision",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit 0 diff shown, no change to an immutable field; 1 diff shown, some change Kubernetes refuses "
               "(immutable field, flagged 'immutable:'); 2 usage or input error; 3 internal error.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run_diff)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="promstack diff")
    add_arguments(parser)
    return run_diff(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
