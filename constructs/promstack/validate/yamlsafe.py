"""YAML read the way the gate can afford: bounded before it is built, keys as the API server sees them.

libyaml builds a document recursively in C: 100,000 nested brackets overflow the stack (a
segfault), and a few thousand overflow Python's recursion in the checks after it. Its scanner
also costs time quadratic in the flow nesting depth. So every stream is first scanned event by
event (libyaml's parser itself keeps no C recursion) and refused, before anything is built, once
a document nests deeper than ``MAX_DEPTH`` collections or its aliases would expand it past
``MAX_ALIAS_EXPANSION`` extra nodes ("billion laughs"); a recursive alias is refused too. Only
then is the stream composed and constructed.

Most streams (every one promstack writes) have no anchor, alias, tag or merge key: those are
built in one pass over the parser's events instead, bounded by the same depth, with the same
data and issues (``_one_pass``); any other stream takes the full way above.

Construction differs from ``yaml.safe_load`` where a manifest's meaning would otherwise be lost:

- a duplicate key in a mapping is recorded as an issue (the value read is the last one, as
  PyYAML and kubectl's non-strict reader do; ``kubectl apply --validate=strict`` refuses it);
- a key that is not a string (``1:``, ``true:``, ``null:``) becomes the string the API server's
  YAML-to-JSON conversion makes of it (``"1"``, ``"true"``, ``"null"``) and is recorded as an issue;
- unquoted dates stay strings; the tags ``!!binary``, ``!!set``, ``!!omap`` and ``!!pairs``, which
  have no JSON form, are errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promstack.validate.findings import PathPart, clip

#: Deepest nesting of collections (mappings and lists) a document may have. The deepest real
#: manifests are CRDs, at about 40 (cert-manager's Issuer); every check handles a few hundred.
MAX_DEPTH = 200
#: Nodes that aliases may add to a stream beyond the nodes written in it (or as many as are
#: written, when that is more): anchors reused a few times stay far below.
MAX_ALIAS_EXPANSION = 100_000

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_NO_JSON_FORM = ("binary", "set", "omap", "pairs")


class UnsafeYAML(yaml.MarkedYAMLError):
    """A stream refused before it is built (too deep, too many aliases, a recursive alias)."""


@dataclass(frozen=True)
class KeyIssue:
    """A duplicate or non-string key: ``path`` leads to the key within its document."""

    path: tuple[PathPart, ...]
    message: str
    duplicate: bool


@dataclass(frozen=True)
class ParsedDocument:
    """One document of a stream: its data (None for an empty one), key issues and first line."""

    data: Any
    issues: tuple[KeyIssue, ...]
    line: int


_FAST = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


def _refuse(message: str, event: yaml.Event) -> UnsafeYAML:
    mark = event.start_mark
    if mark is not None and not isinstance(mark, yaml.Mark):
        # libyaml's mark, as PyYAML's (the type its errors are declared with): the same fields and text.
        mark = yaml.Mark(mark.name, mark.index, mark.line, mark.column, mark.buffer, mark.pointer)
    return UnsafeYAML(problem=message, problem_mark=mark)


def scan(text: str) -> None:
    """Raise UnsafeYAML when ``text`` nests too deep or expands too far; YAMLError when it is not YAML.

    Depth counts collections: a top-level mapping is 1. An alias counts as the node it names
    (its depth and size), so merge keys and shared blocks are bounded as if written out.
    """
    depth = 0
    written = 0
    expanded = 0
    # One frame per open collection: [anchor, height of its deepest child, nodes below it]
    frames: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (height, nodes) of the finished node
    open_anchors: set[str] = set()

    def close(height: int, nodes: int, anchor: str | None) -> None:
        if anchor is not None:
            anchors[anchor] = (height, nodes)
        if frames:
            parent = frames[-1]
            parent[1] = max(parent[1], height)
            parent[2] += nodes

    parser = _FAST(text)
    if "*" not in text:  # no alias without a '*': only the depth needs counting
        try:
            _scan_depth(parser)
        finally:
            parser.dispose()
        return
    try:
        # The parser's own loop (yaml.parse is a generator around check_event and get_event):
        # events are compared by exact type, as the parser makes them.
        get_event: Callable[[], Any] = parser.get_event
        while (event := get_event()) is not None:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                written += 1
                close(0, 1, event.anchor)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                depth += 1
                written += 1
                if depth > MAX_DEPTH:
                    raise _refuse(f"nested deeper than {MAX_DEPTH} levels, the most the gate reads: flatten it", event)
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                frames.append([event.anchor, 0, 0])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                depth -= 1
                anchor, height, nodes = frames.pop()
                if anchor is not None:
                    open_anchors.discard(anchor)
                close(height + 1, nodes + 1, anchor)
            elif kind is yaml.AliasEvent:
                alias = event.anchor
                assert alias is not None  # an alias always names its anchor; the stubs share NodeEvent's Optional
                if alias in open_anchors:
                    raise _refuse(f"alias *{clip(alias, 40)} refers to a node that contains it: remove the alias",
                                  event)
                height, nodes = anchors.get(alias, (0, 1))
                if depth + height > MAX_DEPTH:
                    raise _refuse(
                        f"alias *{clip(alias, 40)} nests it deeper than {MAX_DEPTH} levels, the most the gate reads: "
                        "flatten it", event
                    )
                expanded += nodes
                if expanded > max(MAX_ALIAS_EXPANSION, written):
                    raise _refuse(
                        f"aliases expand it by more than {max(MAX_ALIAS_EXPANSION, written)} nodes: "
                        "write it out without aliases",
                        event,
                    )
                close(height, nodes, None)
            elif kind is yaml.DocumentEndEvent:
                anchors.clear()
    finally:
        parser.dispose()


def _scan_depth(parser: Any) -> None:
    """``scan`` of a stream without aliases: UnsafeYAML once a document nests deeper than MAX_DEPTH."""
    depth = 0
    get_event: Callable[[], Any] = parser.get_event
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    while (event := get_event()) is not None:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            continue
        if kind in starts:
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(f"nested deeper than {MAX_DEPTH} levels, the most the gate reads: flatten it", event)
        elif kind in ends:
            depth -= 1


def key_text(key: Any) -> str:
    """A non-string key as the API server's YAML-to-JSON conversion spells it."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        if math.isnan(key):
            return "NaN"
        if math.isinf(key):
            return "+Inf" if key > 0 else "-Inf"
        return repr(key) if not key.is_integer() else str(int(key))
    return str(key)


_KIND_OF = {type(None): "null", bool: "a boolean", int: "an integer", float: "a number"}
DUPLICATE_KEY = "duplicate key: strict validation refuses it and readers differ on which value wins; keep one"


def _not_a_string(text: str, key: Any) -> str:
    return f"key {clip(text)!r} is {_KIND_OF[type(key)]} in YAML, not a string: quote it"


#: Plain scalar text -> its resolved tag (see ``_Loader.resolve``), for texts of at most _RESOLVED_TEXT characters.
_RESOLVED: dict[str, str] = {}
_RESOLVED_TEXT = 100
_RESOLVED_MAX = 100_000


class _Loader(_FAST):  # type: ignore[misc, valid-type]  # libyaml's loader or PyYAML's, picked at import
    """YAML as the API server reads it here (see the module docstring)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_issues: list[tuple[Node, str, str, bool]] = []
        self.explicit: dict[int, int] = {}  # id(mapping node) -> keys written in it, before merging

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # A plain scalar's tag depends on its text only (the loader has no path resolvers): each
        # distinct short text is matched against the implicit resolvers once per process.
        if kind is ScalarNode and implicit[0] and len(value) <= _RESOLVED_TEXT:
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) >= _RESOLVED_MAX:
                    _RESOLVED.clear()
                _RESOLVED[value] = tag
            return tag
        resolved: str = super().resolve(kind, value, implicit)
        return resolved

    def flatten_mapping(self, node: MappingNode) -> None:
        # A mapping may be flattened as another's merge source before it is constructed itself.
        self.explicit.setdefault(id(node), sum(1 for key, _ in node.value if key.tag != _MERGE))
        super().flatten_mapping(node)

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):  # `!!map` on a scalar or a list
            found = node.id if isinstance(node, ScalarNode | SequenceNode) else "node"
            raise ConstructorError(None, None, f"expected a mapping node, but found {found}", node.start_mark)
        self.flatten_mapping(node)
        first_explicit = len(node.value) - self.explicit[id(node)]  # merged keys come first; written ones win
        mapping: dict[str, Any] = {}
        seen: set[str] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            # A string scalar is its value (what SafeConstructor's str constructor returns); other nodes
            # go through construct_object.
            key = key_node.value if key_node.tag == _STR and type(key_node) is ScalarNode else \
                self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                if not isinstance(key, (type(None), bool, int, float)):
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found a {type(key).__name__} as a key: keys must be strings", key_node.start_mark,
                    )
                text = key_text(key)
                if i >= first_explicit:
                    self.key_issues.append((node, text, _not_a_string(text, key), False))
                key = text
            if i >= first_explicit:
                if key in seen:
                    self.key_issues.append((node, key, DUPLICATE_KEY, True))
                seen.add(key)
            mapping[key] = value_node.value if value_node.tag == _STR and type(value_node) is ScalarNode else \
                self.construct_object(value_node, deep=deep)
        return mapping

    def construct_sequence(self, node: Node, deep: bool = False) -> list[Any]:
        if not isinstance(node, SequenceNode):
            return list(super().construct_sequence(node, deep=deep))  # raises as PyYAML does
        return [child.value if child.tag == _STR and type(child) is ScalarNode
                else self.construct_object(child, deep=deep) for child in node.value]

    def construct_string_timestamp(self, node: Node) -> str:
        return str(self.construct_scalar(node))

    def construct_no_json_form(self, node: Node) -> Any:
        raise ConstructorError(
            None, None, f"tag {clip(node.tag, 40)} has no JSON form: write a plain string, list or mapping",
            node.start_mark,
        )


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP, _Loader.construct_string_timestamp)
for _name in _NO_JSON_FORM:
    _Loader.add_constructor(f"tag:yaml.org,2002:{_name}", _Loader.construct_no_json_form)


def _paths(root: Node, wanted: set[int]) -> dict[int, tuple[PathPart, ...]]:
    """Path of each node whose id is in ``wanted`` (first path found; aliases are walked once)."""
    found: dict[int, tuple[PathPart, ...]] = {}
    seen: set[int] = set()
    stack: list[tuple[Node, tuple[PathPart, ...]]] = [(root, ())]
    while stack and len(found) < len(wanted):
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in wanted:
            found[id(node)] = path
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else "?"
                stack.append((value_node, (*path, key)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return found


def _construct(loader: _Loader, node: Node) -> ParsedDocument:
    loader.key_issues = []
    loader.explicit = {}
    data = loader.construct_document(node)
    issues: list[KeyIssue] = []
    if loader.key_issues:
        paths = _paths(node, {id(n) for n, _, _, _ in loader.key_issues})
        for mapping_node, key, message, duplicate in loader.key_issues:
            issues.append(KeyIssue((*paths.get(id(mapping_node), ()), key), message, duplicate))
    loader.explicit = {}
    return ParsedDocument(data, tuple(issues), node.start_mark.line + 1)


_SCALAR_KEY_TYPES = (type(None), bool, int, float)
_NO_KEY = object()


def _one_pass(text: str) -> list[ParsedDocument] | None:
    """``load_documents(text)`` built straight from the parser's events, in one pass; None when the
    stream has anything this reader leaves to the full one: an anchor or alias, an explicit tag,
    a merge key or other special key, a key that is a collection, nesting beyond MAX_DEPTH, or
    anything the parser or a constructor refuses (the full reader then raises it).

    The full reader parses every stream twice (``scan``, then libyaml's composer) and builds a
    node tree before the data; generated manifests have none of the above, and this reader gives
    the same data, issues (paths and order) and first lines for them at about half the cost.
    """
    loader = _Loader(text)
    get_event: Callable[[], Any] = loader.get_event
    resolve = loader.resolve
    constructors = loader.yaml_constructors
    docs: list[ParsedDocument] = []
    start_kinds = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    try:
        # One frame per open collection: [the dict or list, its path (keys as written), the key
        # whose value comes next (a mapping; _NO_KEY while a key is awaited)].
        frames: list[list[Any]] = []
        issues: list[tuple[int, KeyIssue]] = []
        root: Any = None
        line = 0
        while (event := get_event()) is not None:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    return None
                value = event.value
                if event.implicit[0]:
                    tag = resolve(ScalarNode, value, event.implicit)
                    if tag != _STR:
                        construct = constructors.get(tag)
                        if construct is None or tag == _MERGE:
                            return None
                        value = construct(loader, ScalarNode(tag, value, event.start_mark, event.end_mark,
                                                             style=event.style))
                if not frames:
                    root, line = value, event.start_mark.line + 1
                    continue
                frame = frames[-1]
                container = frame[0]
                if type(container) is list:
                    container.append(value)
                elif frame[2] is _NO_KEY:  # a key
                    text_key = value
                    if not isinstance(value, str):
                        if not isinstance(value, _SCALAR_KEY_TYPES):
                            return None
                        text_key = key_text(value)
                        issues.append((len(frame[1]), KeyIssue((*frame[1], text_key),
                                                               _not_a_string(text_key, value), False)))
                    if text_key in container:
                        issues.append((len(frame[1]), KeyIssue((*frame[1], text_key), DUPLICATE_KEY, True)))
                    frame[2] = (text_key, event.value)
                else:
                    container[frame[2][0]] = value
                    frame[2] = _NO_KEY
            elif kind in start_kinds:
                if event.anchor is not None or event.tag is not None or len(frames) >= MAX_DEPTH:
                    return None
                child: Any = {} if kind is yaml.MappingStartEvent else []
                if not frames:
                    root, line, path = child, event.start_mark.line + 1, ()
                else:
                    frame = frames[-1]
                    container = frame[0]
                    if type(container) is list:
                        path = (*frame[1], len(container))
                        container.append(child)
                    elif frame[2] is _NO_KEY:  # a collection as a key
                        return None
                    else:
                        path = (*frame[1], frame[2][1])
                        container[frame[2][0]] = child
                        frame[2] = _NO_KEY
                frames.append([child, path, _NO_KEY])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frames.pop()
            elif kind is yaml.DocumentEndEvent:
                # The full reader fills nested collections level by level: its issues come in that order.
                issues.sort(key=lambda issue: issue[0])
                docs.append(ParsedDocument(root, tuple(issue for _, issue in issues), line))
                issues, root = [], None
            elif kind is yaml.AliasEvent:
                return None
    except Exception:  # whatever it is, the full reader meets it too and reports it
        return None
    finally:
        loader.dispose()
    return docs


def load_documents(text: str) -> list[ParsedDocument]:
    """Every document of ``text``, bounded as ``scan`` bounds it (in one pass when ``_one_pass``
    can read it). Raises yaml.YAMLError."""
    fast = _one_pass(text)
    if fast is not None:
        return fast
    return _full_documents(text)


def _full_documents(text: str) -> list[ParsedDocument]:
    """``load_documents`` by scanning the stream (see ``scan``), then composing and constructing it."""
    scan(text)
    loader = _Loader(text)
    try:
        docs = []
        while loader.check_node():
            docs.append(_construct(loader, loader.get_node()))
        return docs
    finally:
        loader.dispose()


def load_single(text: str) -> ParsedDocument | None:
    """The one document of ``text`` (None when empty), bounded as in ``load_documents``. Raises
    yaml.YAMLError, also when ``text`` holds more than one document."""
    fast = _one_pass(text)
    if fast is not None and len(fast) <= 1:
        return fast[0] if fast else None
    scan(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(loader, node)
    finally:
        loader.dispose()


def compose(text: str) -> Node | None:
    """The node tree of the first document of ``text``, scanned first. Raises yaml.YAMLError."""
    scan(text)
    return yaml.compose(text, Loader=_FAST)
