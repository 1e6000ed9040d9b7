"""Incremental synth: which folders of dist/ a run may leave as they are.

Each cluster's rendered folder (``dist/clusters/<name>/``) is a pure function of its inputs: every
file in ``clusters/<name>/``, the fleet-wide ``clusters/_shared/`` folder and ``clusters/fleet.yaml``,
and the code that renders them (the promstack package, the generated bindings in ``imports/``, the
vendored ``crds/``, the pinned requirements and package-lock.json, the installed distributions and
the Python version). A sha256 over all of that is the cluster's key; the bootstrap objects
(``dist/bootstrap/``) are keyed by the code, the fleet file and the list of cluster names.

After a swap, the cache manifest (``.build/cache/synth.json``) records per folder its key, what
synth printed about it (the warnings, printed again when it is reused), and a stat snapshot of every
entry in the folder (size, mtime, ctime, inode). A later run reuses a folder only when its key is
unchanged *and* the folder is exactly as synth left it (same snapshot): a hand edit, a checkout, a
deleted or an added file re-renders it. So a cached render is always the bytes a fresh one writes.
The manifest is written after the swap; a run that dies in between leaves a manifest whose
snapshots no longer match, which re-renders those folders.

Nothing here imports cdk8s: a run that finds every folder current never starts the jsii runtime.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promstack.config.cluster import SHARED_DIR
from promstack.config.fleet import FLEET_FILE

#: Where, under the project's build folder, the manifest lives.
CACHE_DIR = "cache"
MANIFEST_FILE = "synth.json"
#: Bumped when the manifest's meaning changes; a manifest of another format is ignored.
FORMAT = 1
#: The manifest's name for dist/bootstrap/ (no cluster folder can be named so: not a DNS label).
BOOTSTRAP = "(bootstrap)"
#: Files of the project root the render depends on besides the package: the exact pins.
PIN_FILES = ("requirements.txt", "requirements-dev.txt", "package.json", "package-lock.json", "cdk8s.yaml")
#: Folders of the project root the render depends on besides the package.
CODE_DIRS = ("imports", "crds")
_SKIP_PARTS = frozenset({"__pycache__"})

#: A stat snapshot of a folder: relative path ("." for the folder) -> [size, mtime_ns, ctime_ns, inode].
Snapshot = dict[str, list[int]]


def _hash_tree(digest: hashlib._Hash, root: Path, label: str) -> None:
    """Every file under ``root`` (path and bytes, in path order) into ``digest``; nothing if ``root`` is missing."""
    if not root.is_dir():
        digest.update(f"{label}: none\0".encode())
        return
    files = sorted(
        (path.relative_to(root).as_posix(), path)
        for path in root.rglob("*")
        if path.is_file() and not _SKIP_PARTS.intersection(path.parts) and path.suffix != ".pyc"
    )
    for name, path in files:
        data = path.read_bytes()
        digest.update(f"{label}/{name}\0{len(data)}\0".encode())
        digest.update(data)


def _hash_file(digest: hashlib._Hash, file: Path, label: str) -> None:
    data = file.read_bytes() if file.is_file() else b""
    digest.update(f"{label}\0{file.is_file()}\0{len(data)}\0".encode())
    digest.update(data)


@functools.cache
def code_key() -> str:
    """sha256 of everything but the inputs that shapes the output: the promstack package source, the
    project's imports/, crds/ and pin files (when run from a source tree), every installed
    distribution's version and the Python version. Computed once per process."""
    import promstack

    digest = hashlib.sha256(f"promstack synth cache {FORMAT}\0python {sys.version}\0".encode())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}".lower() for d in importlib.metadata.distributions()):
        digest.update(f"{dist}\0".encode())
    package = Path(promstack.__file__).resolve().parent
    _hash_tree(digest, package, "promstack")
    root = package.parent.parent  # constructs/promstack -> the project, in a source tree
    if (root / "pyproject.toml").is_file():
        for name in PIN_FILES:
            _hash_file(digest, root / name, name)
        for folder in CODE_DIRS:
            _hash_tree(digest, root / folder, folder)
    return digest.hexdigest()


@dataclass(frozen=True)
class Keys:
    """The cache keys of one clusters folder's render: built once per run, then per cluster."""

    clusters_dir: Path
    fleet_file: str = FLEET_FILE
    shared_dir: str = SHARED_DIR
    base: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"code {code_key()}\0".encode())
        _hash_file(digest, self.clusters_dir / self.fleet_file, self.fleet_file)
        _hash_tree(digest, self.clusters_dir / self.shared_dir, self.shared_dir)
        object.__setattr__(self, "base", digest.hexdigest())

    def cluster(self, folder: Path) -> str:
        """The key of one cluster folder: the shared inputs, its name and every file in it."""
        digest = hashlib.sha256(f"{self.base}\0cluster {folder.name}\0".encode())
        _hash_tree(digest, folder, folder.name)
        return digest.hexdigest()

    def bootstrap(self, cluster_names: Iterable[str], without_apiservice: Iterable[str] = ()) -> str:
        """The key of dist/bootstrap/: the code, the fleet file, the cluster names and which of them
        render no adapter (Flux then delivers no apiservice/ folder for them)."""
        digest = hashlib.sha256(f"code {code_key()}\0bootstrap\0".encode())
        _hash_file(digest, self.clusters_dir / self.fleet_file, self.fleet_file)
        for name in cluster_names:
            digest.update(f"{name}\0".encode())
        for name in without_apiservice:
            digest.update(f"no-apiservice {name}\0".encode())
        return digest.hexdigest()


def snapshot(folder: Path) -> Snapshot:
    """Size, mtime, ctime and inode of ``folder`` and of every entry under it ({} if it is missing).
    A directory's mtime changes when an entry is added or removed in it, so extra files show too."""
    found: Snapshot = {}
    if not folder.is_dir():
        return found
    for current, dirs, files in os.walk(folder):
        dirs.sort()
        base = Path(current)
        for name in [".", *sorted(files), *dirs]:
            path = base / name
            st = os.lstat(path)
            rel = path.relative_to(folder).as_posix()
            found[rel] = [st.st_size if name in files else 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return found


@dataclass(frozen=True)
class Entry:
    """One folder of dist/ as the manifest records it."""

    key: str
    files: Snapshot
    warnings: tuple[str, ...] = ()


def manifest_path(build_dir: Path) -> Path:
    return build_dir / CACHE_DIR / MANIFEST_FILE


def load(build_dir: Path, dist: Path) -> dict[str, Entry]:
    """The manifest's entries for ``dist``; {} if there is none, it is unreadable, of another format
    or about another output folder (then every folder is rendered)."""
    try:
        data = json.loads(manifest_path(build_dir).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("dist") != str(dist.resolve()):
            return {}
        return {name: Entry(str(e["key"]), {k: [int(x) for x in v] for k, v in e["files"].items()},
                            tuple(str(w) for w in e.get("warnings", ())))
                for name, e in data["entries"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(build_dir: Path, dist: Path, entries: dict[str, Entry]) -> None:
    """Write the manifest whole (a temporary file renamed over it)."""
    path = manifest_path(build_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "dist": str(dist.resolve()),
            "entries": {name: {"key": e.key, "files": e.files, "warnings": list(e.warnings)}
                        for name, e in sorted(entries.items())}}
    fd, temp = tempfile.mkstemp(prefix=".synth-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
    os.replace(temp, path)


def current(entry: Entry | None, key: str, folder: Path) -> bool:
    """``folder`` is what synth rendered for ``key`` and nobody touched it since."""
    return entry is not None and entry.key == key and snapshot(folder) == entry.files
