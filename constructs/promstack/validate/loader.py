"""Read manifests from files and folders and group them into units (one unit = one cluster).

Units: every file below ``.../clusters/<cluster>/`` belongs to the unit of that cluster folder,
so ``dist/`` holding ``dist/clusters/a`` and ``dist/clusters/b`` gives two units that are
checked apart (wiring, unique NodePorts and names are per cluster). Any other folder given is
one unit; loose files given on the command line together form one more unit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promstack.validate.findings import Finding, PathPart, format_path

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
LOOSE_FILES_UNIT = "<files>"


class InputError(Exception):
    """Input that cannot be read at all: a missing path, unreadable file or bad YAML (exit 2)."""


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """YAML as the API server reads it here: unquoted dates stay strings (no ``datetime``)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file. ``index`` is its 0-based position in the file."""

    file: str
    index: int
    obj: Any

    @property
    def is_object(self) -> bool:
        return isinstance(self.obj, dict)

    def _get(self, key: str) -> str:
        value = self.obj.get(key) if isinstance(self.obj, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def api_version(self) -> str:
        return self._get("apiVersion")

    @property
    def group(self) -> str:
        """API group: ``apps`` for ``apps/v1``, empty for the core group (``v1``)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def kind(self) -> str:
        return self._get("kind")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata") if isinstance(self.obj, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        value = self.metadata.get("name")
        return value if isinstance(value, str) else ""

    @property
    def namespace(self) -> str:
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.obj.get("spec") if isinstance(self.obj, dict) else None
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> str:
        """``Kind/namespace/name`` (``Kind//name`` without a namespace), as findings print it."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    def finding(self, path: Sequence[PathPart], message: str, check: str) -> Finding:
        return Finding(self.file, self.kind, self.namespace, self.name, format_path(path), message, check)


@dataclass
class Unit:
    """Manifests checked together: one cluster folder, one other folder, or the loose files."""

    name: str
    files: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)

    @property
    def objects(self) -> list[Document]:
        return [doc for doc in self.documents if doc.is_object]


def _manifest_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath, f) for f in sorted(filenames) if f.endswith(MANIFEST_SUFFIXES))
    return found


def _cluster_dir(arg: Path, file: Path) -> Path | None:
    """The ``clusters/<name>`` folder holding ``file``, looking no higher than ``arg``'s parent."""
    rel = file.relative_to(arg).parts if file != arg else ()
    parts = (*arg.parts, *rel)
    first = max(len(arg.parts) - 2, 0)
    for i in range(len(parts) - 3, first - 1, -1):  # parts[i + 1] is a folder, not the file
        if parts[i] == "clusters":
            return Path(*parts[: i + 2])
    return None


def load_file(path: Path, display: str | None = None) -> list[Document]:
    """Every non-empty YAML document of ``path``. Raises InputError with file and line on bad YAML."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read: {exc}") from exc
    try:
        objs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{where}: invalid YAML: {problem}") from exc
    return [Document(shown, i, obj) for i, obj in enumerate(objs) if obj is not None]


def load_units(paths: Iterable[str | Path]) -> list[Unit]:
    """Load every manifest below ``paths`` (files or folders) grouped into units, in a stable order.

    Raises InputError for a path that does not exist, a folder with no manifest, or bad YAML.
    """
    units: dict[str, Unit] = {}
    seen: set[Path] = set()
    for raw in paths:
        arg = Path(raw)
        if not arg.exists():
            raise InputError(f"{arg}: no such file or folder")
        files = _manifest_files(arg) if arg.is_dir() else [arg]
        if arg.is_dir() and not files:
            raise InputError(f"{arg}: no manifest (*.yaml, *.yml, *.json) in this folder")
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            cluster = _cluster_dir(arg, file)
            key = str(cluster) if cluster else (str(arg) if arg.is_dir() else LOOSE_FILES_UNIT)
            unit = units.setdefault(key, Unit(key))
            unit.files.append(str(file))
            unit.documents.extend(load_file(file))
    return [units[k] for k in sorted(units)]
