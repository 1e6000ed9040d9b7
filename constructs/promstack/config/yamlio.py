"""YAML in and out: the one reader of input files (cluster.yaml, fleet.yaml) and the one writer of
YAML text embedded in ConfigMaps.

Reading is bounded so that no input, however made, ends in a traceback, a hang or a memory blow-up:
only a regular file of at most ``MAX_BYTES`` is read (not a directory, fifo or device, even behind
a symlink); it must be UTF-8 (UTF-16 with a byte-order mark is accepted, as YAML allows); nesting
stops at ``MAX_DEPTH`` levels and the document, with every alias expanded, at ``MAX_NODES`` values
(so a "billion laughs" alias bomb is refused before anything is built from it); integers are at most
``MAX_INT_CHARS`` long. Keys must be plain values and may not repeat; YAML merge keys
(``<<: *defaults``) work, and a key written beside a merge overrides the merged one, as YAML says.
Every problem is one ``<file>: line N: ...`` line that never quotes the input at length.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promstack.config.model import ConfigError, show, show_path

#: Largest input file read, in bytes.
MAX_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings (a cluster.yaml needs about 7).
MAX_DEPTH = 32
#: Most values in one document, counting every alias expansion.
MAX_NODES = 20_000
#: Longest integer literal (int64 has 19 digits; anything longer is a mistake).
MAX_INT_CHARS = 32
#: Longest YAML parser message quoted in an error.
_MAX_PROBLEM = 100

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _mark(event: yaml.Event) -> yaml.Mark | None:
    """Where ``event`` starts. The pure-Python parser below makes only PyYAML's own marks; the stubs
    also allow libyaml's, which the stubs of PyYAML's errors do not take."""
    mark = event.start_mark
    return mark if isinstance(mark, yaml.Mark) else None


class _Loader(yaml.SafeLoader):
    """SafeLoader with bounds on depth and alias expansion, unique keys, merge keys and short integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values inside, nesting height)

    def _count(self, nodes: int, height: int, mark: yaml.Mark | None) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise ComposerError(None, None, f"more than {MAX_NODES} values once aliases are expanded; "
                                "write the values out or use fewer aliases", mark)
        if self._depth + height > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep; flatten it", mark)

    def _compose(self, parent: Node | None, index: Any) -> Node:
        node = super().compose_node(parent, index)
        assert node is not None  # the stubs allow None; PyYAML composes a node or raises
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # unannotated in the stubs
        mark = _mark(event)
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                if id(target) not in self._sizes:
                    raise ComposerError(None, None, "an alias inside the value its anchor names; "
                                        "a value cannot contain itself", mark)
                self._count(*self._sizes[id(target)], mark)
            return self._compose(parent, index)
        self._count(0, 1, mark)
        self._depth += 1
        before = self._nodes
        node = self._compose(parent, index)
        self._depth -= 1
        self._count(1, 0, mark)
        self._sizes[id(node)] = (self._nodes - before, 1 + max(self._heights(node), default=0))
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's own constructors fail this way on `2001-02-30`, `!!int abc`, `!!bool maybe` ...
            kind = node.tag.rpartition(":")[2]
            label = f"!!{kind}" if kind.isalpha() and len(kind) <= 20 else "its tag"
            raise ConstructorError(None, None, f"this value cannot be read as {label}; fix it or quote it",
                                   node.start_mark) from None

    def _heights(self, node: Node) -> list[int]:
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            return []
        return [self._sizes[id(child)][1] for child in children]


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    if len(node.value) > MAX_INT_CHARS:
        raise ConstructorError(None, None, f"a number {len(node.value)} characters long; "
                               f"numbers here have at most {MAX_INT_CHARS}", node.start_mark)
    return SafeConstructor.construct_yaml_int(loader, node)


def _construct_mapping(loader: _Loader, node: Node) -> dict[Any, Any]:
    if not isinstance(node, MappingNode):  # `!!map` on a scalar or a list
        found = node.id if isinstance(node, ScalarNode | SequenceNode) else "node"
        raise ConstructorError(None, None, f"expected a mapping, found a {found}", node.start_mark)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode):
            raise ConstructorError(None, None, "a key must be a plain value, not a list or a mapping; "
                                   "write `key: value`", key_node.start_mark)
        # `<<` is a key too: a second one is a duplicate (merge several with `<<: [*a, *b]`).
        key = ("<<",) if key_node.tag == _MERGE_TAG else loader.construct_object(key_node)
        if key in seen:
            shown = "<<" if key == ("<<",) else show(key, 40)
            raise ConstructorError(None, None, f"duplicate key {shown}; keep one", key_node.start_mark)
        seen.add(key)
    # Only after the check: flattening puts the merged keys in front of the ones written here, and
    # building the dict lets a written key override a merged one.
    return SafeConstructor.construct_mapping(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_PROBLEM else text[:_MAX_PROBLEM] + "..."


def parse_yaml(text: str, source: str) -> Any:
    """One YAML document from ``text``, or a ConfigError ``source: line N: not valid YAML: ...``."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        hint = " (a NUL: if the file is UTF-16, save it as UTF-8)" if exc.character == 0 else ""
        raise ConfigError([f"{source}: line {line}: not valid YAML: the character #x{exc.character:04x} "
                           f"is not allowed{hint}; remove it"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        context, problem = getattr(exc, "context", None), getattr(exc, "problem", None) or "cannot be parsed"
        # "while parsing a flow mapping: expected ',' or '}'", "expected a single document ... but found another"
        if context:
            problem = f"{context}{' ' if problem.startswith('but ') else ': '}{problem}"
        raise ConfigError([f"{source}: {where}: not valid YAML: {_one_line(problem)}"]) from None


def _decode(data: bytes, source: str) -> str:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            data, encoding = data[len(bom):], codec
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{source}: line {line}: not {encoding.upper()} text (byte offset {exc.start}); "
                           "save the file as UTF-8"]) from None


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def read_text(file: Path, *, if_missing: str, max_bytes: int = MAX_BYTES) -> str:
    """The text of a regular file of at most ``max_bytes``, or a ConfigError naming the file and the fix."""
    source = show_path(file)
    try:
        info = os.stat(file)  # follows symlinks: a link to a regular file is fine
    except FileNotFoundError:
        if os.path.islink(file):
            raise ConfigError([f"{source}: (file): a symlink to nothing; point it at a file or replace it "
                               "with one"]) from None
        raise ConfigError([f"{source}: (file): missing; {if_missing}"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: (file): cannot be read ({exc.strerror}); make it a readable file"]) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"{source}: (file): {_kind(info.st_mode)}, not a regular file; make it a plain file"])
    try:
        # O_NONBLOCK: should the path be swapped for a fifo after the check, open does not wait.
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError([f"{source}: (file): cannot be read ({exc.strerror}); make it a readable file"]) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError([f"{source}: (file): {_kind(info.st_mode)}, not a regular file; make it a plain file"])
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError([f"{source}: (file): larger than {max_bytes // 1024} KiB; "
                           "an input file this large is a mistake, keep it small"])
    return _decode(data, source)


def read_yaml(file: Path, *, if_missing: str) -> Any:
    """Parsed YAML of ``file`` within the bounds above, or a ConfigError naming the file, the line and the fix."""
    return parse_yaml(read_text(file, if_missing=if_missing), show_path(file))


# libyaml's emitter when PyYAML has it: the same text as the pure-Python one, several times faster.
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]  # libyaml's dumper or PyYAML's, picked at import
    """Block style throughout, multi-line strings as literal blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        # &id001 / *id001 anchors are legal but unreadable in a pull request.
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_representer)


def dump(data: Any, *, width: int = 120) -> str:
    """YAML text for files embedded in ConfigMaps: keys in the order given (the order a reader
    expects), block style, multi-line strings as literal blocks, no anchors, readable in review."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=width,
                     allow_unicode=True)
