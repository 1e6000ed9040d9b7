"""`promstack diff`: what a change does to the clusters, object by object.

Compares the rendered ``dist/`` in the working tree (run ``make synth`` first) with ``dist/``
as committed at a git revision (default ``HEAD``). Objects are matched by (cluster folder, API
group, kind, namespace, name), so an object that moves between files is not a change. Output
lists, per cluster folder (and ``bootstrap``), the added, removed and changed objects with the
changed field paths. Sealed values (SealedSecret ``spec.encryptedData``), Secret data, every
``caBundle`` and anything holding a private key are summarised, never printed. Exit status is
0 whatever changed; 2 on a usage error (bad revision, not a git repository).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
#: Lines of a changed multi-line text (a Prometheus config, a dashboard) shown at most.
MAX_TEXT_LINES = 30
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

PathPart = str | int
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
        return f"{self.kind}{group} {ns}{self.name}"


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


@dataclass
class Report:
    """Every object change, sorted by cluster and object, plus files that could not be read."""

    changes: list[ObjectChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.problems

    def by_cluster(self) -> dict[str, list[ObjectChange]]:
        grouped: dict[str, list[ObjectChange]] = {}
        for change in self.changes:
            grouped.setdefault(change.key.cluster, []).append(change)
        return grouped

    def summary(self) -> str:
        counts = {k: sum(c.change == k for c in self.changes) for k in ("added", "removed", "changed")}
        return ", ".join(f"{n} {k}" for k, n in counts.items())

    def render_text(self) -> str:
        if self.empty:
            return "no changes\n"
        out: list[str] = []
        for cluster, changes in self.by_cluster().items():
            out.append(f"{cluster}:")
            for change in changes:
                out.append(f"  {change.change} {change.key}")
                for fc in change.fields:
                    out.append(f"    {fc}")
                    out.extend(f"      {line}" for line in fc.lines)
        out.extend(f"warning: {p}" for p in self.problems)
        out.append(self.summary())
        return "\n".join(out) + "\n"

    def render_markdown(self) -> str:
        out = ["## promstack diff", ""]
        if self.empty:
            return "\n".join([*out, "No changes to the rendered manifests.", ""])
        out += [f"{self.summary()}.", ""]
        for cluster, changes in self.by_cluster().items():
            out += [f"### {cluster}", ""]
            for change in changes:
                out.append(f"- **{change.change}** `{change.key}`")
                for fc in change.fields:
                    out.append(f"  - `{fc.path}`: {_md(fc.summary)}")
                    if fc.lines:
                        out += ["", "    ```diff", *(f"    {line}" for line in fc.lines), "    ```", ""]
            out.append("")
        if self.problems:
            out += ["### warnings", "", *(f"- {_md(p)}" for p in self.problems), ""]
        return "\n".join(out)


def _md(text: str) -> str:
    return f"`{text}`" if "`" not in text else text


def format_path(parts: tuple[PathPart, ...]) -> str:
    """``spec.template.spec.containers[0].args[3]``; odd keys as ``metadata.labels["a/b"]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text or "(object)"


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
        shown = tuple(diff[:MAX_TEXT_LINES]) + ((f"... {len(diff) - MAX_TEXT_LINES} more",) if len(diff) > MAX_TEXT_LINES else ())
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


def parse_tree(files: dict[str, bytes], problems: list[str], label: str) -> dict[ObjectKey, dict[str, Any]]:
    """Objects of every manifest file in ``files`` (paths relative to dist/), by identity."""
    objects: dict[ObjectKey, dict[str, Any]] = {}
    for path in sorted(files):
        if not path.endswith(MANIFEST_SUFFIXES):
            continue
        try:
            docs = list(yaml.safe_load_all(files[path]))
        except yaml.YAMLError as exc:
            problems.append(f"{label} {path}: not valid YAML ({str(exc).splitlines()[0]}); its objects are skipped")
            continue
        for doc in docs:
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            meta = doc.get("metadata") or {}
            api_version = str(doc.get("apiVersion", ""))
            key = ObjectKey(
                cluster=_cluster_of(path),
                group=api_version.rpartition("/")[0],
                kind=str(doc["kind"]),
                namespace=str(meta.get("namespace") or ""),
                name=str(meta.get("name") or ""),
            )
            if key in objects:
                problems.append(f"{label} {path}: {key} appears twice in {key.cluster}; the last one is compared")
            objects[key] = doc
    return objects


def diff_trees(old: dict[str, bytes], new: dict[str, bytes]) -> Report:
    """Compare two output trees, each as {path relative to dist/: file content}."""
    report = Report()
    before = parse_tree(old, report.problems, "base")
    after = parse_tree(new, report.problems, "working tree")
    for key in sorted(set(before) | set(after)):
        if key not in before:
            report.changes.append(ObjectChange(key, "added"))
        elif key not in after:
            report.changes.append(ObjectChange(key, "removed"))
        else:
            fields = field_changes(before[key], after[key])
            if fields:
                report.changes.append(ObjectChange(key, "changed", tuple(fields)))
    return report


class UsageError(Exception):
    """Bad revision, missing git or a folder outside the repository (exit 2)."""


def read_worktree(dist: Path) -> dict[str, bytes]:
    """Every file under ``dist`` (empty when it does not exist)."""
    if not dist.is_dir():
        return {}
    return {p.relative_to(dist).as_posix(): p.read_bytes() for p in sorted(dist.rglob("*")) if p.is_file()}


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args[:2])}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def read_revision(dist: Path, ref: str) -> dict[str, bytes]:
    """Every file under ``dist`` as committed at ``ref`` (empty when dist/ did not exist there)."""
    dist = dist.resolve()
    anchor = dist if dist.is_dir() else dist.parent
    top = Path(_git(anchor, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    try:
        rel = dist.relative_to(top).as_posix()
    except ValueError:
        raise UsageError(f"{dist} is outside the git repository {top}") from None
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(f"{ref!r} is not a commit of {top}; pass --base with a branch, tag or commit") from None
    names = [n for n in _git(top, "ls-tree", "-r", "-z", "--name-only", ref, "--", rel).decode().split("\0") if n]
    if not names:
        return {}
    # One `git cat-file --batch` for all blobs instead of one `git show` per file.
    stdin = "".join(f"{ref}:{name}\n" for name in names).encode()
    out, files, pos = _git(top, "cat-file", "--batch", stdin=stdin), {}, 0
    for name in names:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[PurePosixPath(name).relative_to(rel).as_posix()] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return files


def run_diff(args: argparse.Namespace) -> int:
    dist = Path(args.dist)
    try:
        old = read_revision(dist, args.base)
    except UsageError as exc:
        print(f"promstack diff: error: {exc}", file=sys.stderr)
        return 2
    report = diff_trees(old, read_worktree(dist))
    sys.stdout.write(report.render_markdown() if args.format == "markdown" else report.render_text())
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="text (default) or markdown for a pull request comment")
    parser.add_argument("--dist", default="dist", help="rendered output folder (default dist)")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `diff` to the `promstack` command's subparsers."""
    parser = subparsers.add_parser(
        "diff", help="objects added, removed and changed in dist/ since a git revision",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
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
