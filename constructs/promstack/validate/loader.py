"""Read manifests from files and folders and group them into units (one unit = one cluster).

Units: every file below ``.../clusters/<cluster>/`` belongs to the unit of that cluster folder,
so ``dist/`` holding ``dist/clusters/a`` and ``dist/clusters/b`` gives two units that are
checked apart (wiring, unique NodePorts and names are per cluster). Any other folder given is
one unit; loose files given on the command line together form one more unit.

Input that cannot be read whole is an InputError (exit 2), never a finding nor silently
skipped: a folder that cannot be listed, a symlink loop, a manifest that is not a regular file
(a fifo, a device), larger than ``MAX_FILE_BYTES``, not UTF-8, not YAML, or nested beyond what
``yamlsafe`` reads. Symlinked folders are followed.

A List (``kind: List``, or ``<Kind>List`` with ``items``) is expanded as kubectl does: each item
is a document of its own whose field paths start with ``items[i]``; the List itself is kept as
an envelope that is checked for its own shape only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promstack.validate import yamlsafe
from promstack.validate.findings import CLIP, Finding, PathPart, clip, format_path, printable

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
LOOSE_FILES_UNIT = "<files>"
#: Largest manifest file read (the API server takes objects of at most 1.5 MiB).
MAX_FILE_BYTES = 50 * 1024 * 1024

Issue = tuple[tuple[PathPart, ...], str]


class InputError(Exception):
    """Input that cannot be read at all: a missing path, unreadable file or bad YAML (exit 2)."""


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file, or one item of a List in it.

    ``index`` is the document's 0-based position in the file; ``prefix`` the path of a List item
    within it (``("items", 1)``), empty otherwise. ``issues`` are (path, message) problems found
    while reading it (duplicate or non-string keys), reported as schema findings. ``envelope``
    marks a List: its items are the objects, it is not one.
    """

    file: str
    index: int
    obj: Any
    prefix: tuple[PathPart, ...] = ()
    issues: tuple[Issue, ...] = ()
    envelope: bool = False

    @property
    def is_object(self) -> bool:
        return isinstance(self.obj, dict) and not self.envelope

    @property
    def location(self) -> str:
        """``document 2``, or ``document 2, items[1]`` for a List item."""
        return f"document {self.index + 1}" + (f", {format_path(self.prefix)}" if self.prefix else "")

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
        """A finding at ``path`` within this object (a List item's path starts with ``items[i]``)."""
        # Kind, namespace and name as the object spells them (escaped when printed), cut past CLIP
        # characters (Kubernetes allows 253 in a name): a finding quotes little of its input.
        return Finding(self.file, _cut(self.kind), _cut(self.namespace), _cut(self.name),
                       format_path((*self.prefix, *path)), message, check)


def _cut(text: str) -> str:
    return text if len(text) <= CLIP else text[: CLIP - 3] + "..."


@dataclass
class Unit:
    """Manifests checked together: one cluster folder, one other folder, or the loose files."""

    name: str
    files: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)

    @property
    def objects(self) -> list[Document]:
        return [doc for doc in self.documents if doc.is_object]


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _show(path: Path | str) -> str:
    return printable(str(path))


def _loop_error(path: Path) -> InputError:
    return InputError(f"{_show(path)}: symlink loop: replace the link with the file or folder it should name")


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def manifest_files(root: Path) -> list[Path]:
    """Every manifest (``*.yaml``, ``*.yml``, ``*.json``) below ``root``, in a stable order.

    Folders whose name starts with a dot are skipped; symlinked folders are followed. Raises
    InputError for a folder that cannot be listed or a symlink that loops.
    """
    found: list[Path] = []
    try:
        stack: list[tuple[Path, tuple[tuple[int, int], ...]]] = [(root, (_identity(root),))]
    except OSError as exc:
        raise InputError(f"{_show(root)}: cannot read folder ({_reason(exc)}): check that it is readable") from None
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            raise InputError(
                f"{_show(folder)}: cannot read folder ({_reason(exc)}): fix its permissions or remove it"
            ) from None
        folders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                ident = _identity(path) if is_dir else None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _loop_error(path) from None
                raise InputError(f"{_show(path)}: cannot read ({_reason(exc)}): check that it is readable") from None
            if ident is not None:
                if entry.name.startswith("."):
                    continue
                if ident in ancestors:
                    raise InputError(
                        f"{_show(path)}: symlink loop: it leads back to a folder that contains it; remove the link"
                    )
                folders.append((path, (*ancestors, ident)))
            elif entry.name.endswith(MANIFEST_SUFFIXES):
                found.append(path)
        stack.extend(reversed(folders))
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


_KINDS_OF_FILE = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(shown: str, mode: int) -> InputError:
    what = next((name for test, name in _KINDS_OF_FILE if test(mode)), "not a regular file")
    return InputError(f"{shown}: {what}, not a regular file: manifests are read from regular files only")


def read_bytes(path: Path, display: str | None = None) -> bytes:
    """The content of manifest file ``path``: a regular file of at most MAX_FILE_BYTES.

    Raises InputError naming the file (``display``, default ``path``), the problem and the fix.
    A fifo or device is never opened for reading, so reading never blocks.
    """
    shown = _show(display or path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(shown, mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(shown, st.st_mode)
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _loop_error(Path(shown)) from None
        raise InputError(f"{shown}: cannot read ({_reason(exc)}): check that it exists and is readable") from None
    check_size(shown, len(data))
    return data


def check_size(shown: str, size: int) -> None:
    """InputError when a manifest of ``size`` bytes is larger than MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{shown}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most read from one manifest file: "
            "split it"
        )


def decode(data: bytes, display: str) -> str:
    """``data`` as UTF-8 text; InputError with the line and offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{_show(display)}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save the file as UTF-8"
        ) from None


def read_text(path: Path, display: str | None = None) -> str:
    """The text of manifest file ``path`` (see ``read_bytes``), which must be UTF-8."""
    return decode(read_bytes(path, display), display or str(path))


def yaml_problem(text: str, exc: yaml.YAMLError) -> tuple[tuple[int, int] | None, str]:
    """(line, column) when known and the problem of a YAML error, at most ~100 characters of it."""
    if isinstance(exc, yaml.reader.ReaderError):
        pos = min(exc.position, len(text))
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        code = f"U+{ord(text[pos]):04X}" if pos < len(text) else "a character"
        return (line, column), (
            f"invalid YAML: {code} is not allowed in YAML; remove it or write it as an escape in a double-quoted string"
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = (mark.line + 1, mark.column + 1) if mark else None
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    if isinstance(exc, yamlsafe.UnsafeYAML):
        return where, f"refused: {problem}"
    return where, f"invalid YAML: {clip(problem, 100)}"


def yaml_error(shown: str, text: str, exc: yaml.YAMLError) -> str:
    """One line for a YAML error: ``file:line:column: problem``."""
    where, problem = yaml_problem(text, exc)
    return f"{shown}:{where[0]}:{where[1]}: {problem}" if where else f"{shown}: {problem}"


def parse_text(text: str, display: str) -> list[yamlsafe.ParsedDocument]:
    """The documents of ``text``; InputError (one line, see ``yaml_error``) when it is not YAML."""
    shown = _show(display)
    try:
        return yamlsafe.load_documents(text)
    except yaml.YAMLError as exc:
        raise InputError(yaml_error(shown, text, exc)) from None
    except RecursionError:
        raise InputError(f"{shown}: invalid YAML: nested too deeply to read: flatten it") from None


def is_list(obj: Any) -> bool:
    """A List as kubectl reads one: a kind ending in ``List`` with ``items``."""
    return (isinstance(obj, dict) and isinstance(obj.get("kind"), str) and obj["kind"].endswith("List")
            and "items" in obj)


def _typed_item(envelope: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """An item of a typed list (``ConfigMapList``) without apiVersion and kind gets the list's, as kubectl does."""
    kind = envelope["kind"].removesuffix("List")
    if kind and "apiVersion" not in item and "kind" not in item:
        return {"apiVersion": envelope.get("apiVersion"), "kind": kind, **item}
    return item


def expand(file: str, index: int, obj: Any, issues: Sequence[Issue] = ()) -> list[Document]:
    """The documents of one YAML document: itself, or for a List its envelope and every item (nested Lists too)."""
    out: list[Document] = []

    def visit(node: Any, prefix: tuple[PathPart, ...], found: Sequence[Issue]) -> None:
        if not is_list(node):
            out.append(Document(file, index, node, prefix, tuple(found)))
            return
        items = node["items"]
        objects = {i for i, item in enumerate(items) if isinstance(item, dict)} if isinstance(items, list) else set()

        def owner(path: tuple[PathPart, ...]) -> int | None:
            return path[1] if len(path) >= 2 and path[0] == "items" and path[1] in objects else None

        out.append(Document(file, index, node, prefix, tuple(i for i in found if owner(i[0]) is None), envelope=True))
        for i in sorted(objects):
            mine = [(path[2:], message) for path, message in found if owner(path) == i]
            visit(_typed_item(node, items[i]), (*prefix, "items", i), mine)

    visit(obj, (), issues)
    return out


def load_file(path: Path, display: str | None = None) -> list[Document]:
    """Every non-empty YAML document of ``path``, Lists expanded. Raises InputError (see ``read_text``)."""
    shown = display or str(path)
    text = read_text(path, shown)
    documents: list[Document] = []
    for i, parsed in enumerate(parse_text(text, shown)):
        if parsed.data is not None:
            documents += expand(shown, i, parsed.data, [(issue.path, issue.message) for issue in parsed.issues])
    return documents


@dataclass(frozen=True)
class PlannedUnit:
    """A unit's name and files before they are read: ``files`` holds (position in reading order, file)."""

    name: str
    files: tuple[tuple[int, str], ...]

    def load(self) -> Unit:
        """The unit with every document of its files (InputError for the first file that cannot be read)."""
        unit = Unit(self.name, [file for _, file in self.files])
        for _, file in self.files:
            unit.documents.extend(load_file(Path(file)))
        return unit


def plan_units(paths: Iterable[str | Path]) -> tuple[list[PlannedUnit], InputError | None]:
    """The units ``load_units`` reads, files listed but not read, in the same order.

    A path that does not exist, cannot be listed or holds no manifest stops the listing: the
    error is returned with the units of the files listed before it, which ``load_units`` reads
    before it raises it (so the first problem in reading order is the one reported).
    """
    units: dict[str, list[tuple[int, str]]] = {}
    seen: set[str] = set()
    position = 0
    try:
        for raw in paths:
            arg = Path(raw)
            try:
                is_dir = stat.S_ISDIR(os.stat(arg).st_mode)
            except FileNotFoundError:
                raise InputError(f"{_show(arg)}: no such file or folder: check the path") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _loop_error(arg) from None
                raise InputError(f"{_show(arg)}: cannot read ({_reason(exc)}): check that it is readable") from None
            files = manifest_files(arg) if is_dir else [arg]
            if is_dir and not files:
                raise InputError(f"{_show(arg)}: no manifest (*.yaml, *.yml, *.json) in this folder")
            for file in files:
                resolved = os.path.realpath(file)
                if resolved in seen:
                    continue
                seen.add(resolved)
                cluster = _cluster_dir(arg, file)
                key = str(cluster) if cluster else (str(arg) if is_dir else LOOSE_FILES_UNIT)
                units.setdefault(key, []).append((position, str(file)))
                position += 1
    except InputError as exc:
        error: InputError | None = exc
    else:
        error = None
    return [PlannedUnit(k, tuple(units[k])) for k in sorted(units)], error


def load_units(paths: Iterable[str | Path]) -> list[Unit]:
    """Load every manifest below ``paths`` (files or folders) grouped into units, in a stable order.

    Raises InputError for a path that does not exist, a folder with no manifest, or input that
    cannot be read (see the module docstring): the first such problem in reading order.
    """
    planned, error = plan_units(paths)
    units = {plan.name: Unit(plan.name, [file for _, file in plan.files]) for plan in planned}
    documents: dict[int, list[Document]] = {}
    for position, file in sorted(f for plan in planned for f in plan.files):
        documents[position] = load_file(Path(file))
    if error is not None:
        raise error
    for plan in planned:
        for position, _ in plan.files:
            units[plan.name].documents.extend(documents[position])
    return [units[plan.name] for plan in planned]
