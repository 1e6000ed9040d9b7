"""A pure-Python ``cdk8s.Yaml.stringify``: the same bytes, without a round trip into the jsii runtime.

``cdk8s.Yaml.stringify(*docs)`` (cdk8s 2.70.115, lib/yaml.js) is
``docs.map(d => d === undefined ? '\\n' : YAML.stringify(d, {keepUndefined: true, lineWidth: 0,
version: '1.1'})).join('---\\n')`` with the npm ``yaml`` package 2.9.1 bundled in its jsii
tarball. Each call crosses into Node and costs ~5 ms per file, most of synth's YAML time. This
module mirrors that package's block-style output rules (stringify/stringifyString.js,
stringifyPair.js, stringifyCollection.js; the YAML 1.1 schema's tags) for the JSON-like values
promstack renders. ``lineWidth: 0`` turns folding off, so every multi-line string is a literal
block and no line is ever wrapped.

It never guesses: a value outside what the tests prove (non-ASCII or control characters, a
non-integral or unsafe number, a non-str key, a key JavaScript would reorder, a top-level scalar,
a type jsii converts on its own, ...) raises ``Unproven`` and the caller writes that file with
cdk8s instead (``synth.write``)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from typing import Any


class Unproven(Exception):
    """The value is outside what this emitter is proven to write exactly as cdk8s does."""


#: The characters the fast path handles: printable ASCII, tab and newline. Anything else (other
#: controls, which the yaml package double-quotes with \\x escapes; non-ASCII, where JavaScript's
#: UTF-16 lengths, line terminators and JSON escapes differ from Python's) is Unproven.
_SAFE = re.compile(r"[\t\n\x20-\x7e]*")

#: plainString's test for what cannot start, contain or end a plain scalar (JavaScript's ^ and $
#: without the m flag are \A and \Z).
_INDICATOR = re.compile(
    r"\A[\n\t ,\[\]{}#&*!|>'\"%@`]|\A[?-]\Z|\A[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]\Z")

#: containsDocumentMarker: a line starting with %, --- or ... (the m flag; no \r gets this far).
_DOC_MARKER = re.compile(r"^(?:%|---|\.\.\.)", re.M)

#: The ``test`` of every default non-str tag of the yaml package's YAML 1.1 schema (null, bool,
#: int in base 2/8/10/16, float, sexagesimal int and float, timestamp): a plain string matching
#: one would read back as something else, so it is quoted. The merge key ``<<`` is Unproven.
#: One alternation, so each string costs one match.
_NOT_STR = re.compile("|".join(f"(?:{p})" for p in (
    r"(?:~|[Nn]ull|NULL)?",
    r"(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)",
    r"(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)",
    r"[-+]?0b[0-1_]+",
    r"[-+]?0[0-7_]+",
    r"[-+]?[0-9][0-9_]*",
    r"[-+]?0x[0-9a-fA-F_]+",
    r"(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)",
    r"[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+",
    r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*",
    r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+",
    r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:t|T|[ \t]+)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}(\.[0-9]+)?)"
    r"(?:[ \t]*(Z|[-+][012]?[0-9](?::[0-9]{2})?))?)?",
)))

#: JavaScript objects list integer-like keys (array indices) first, in numeric order, whatever
#: the insertion order: such keys are Unproven rather than reordered here.
_INDEX_KEY = re.compile(r"0|[1-9][0-9]*")
#: The last line break of each run: the yaml package's replace(/\n+/g, `$&...`) appends to every run
#: of line breaks; replacing this one with a literal is the same and stays in C (a \g<0> template
#: costs a Python call per match).
_RUN_END = re.compile(r"\n(?!\n)")
#: blockString's blockEndNewlines, the same way: each run in the trailing whitespace but a final one.
_BLOCK_END_NEWLINES = re.compile(r"\n(?!\n|\Z)")
_MAX_SAFE_INT = 2**53 - 1
_INDENT = "  "


def stringify(objects: Sequence[Any]) -> str:
    """What ``cdk8s.Yaml.stringify(*objects)`` returns, or Unproven (also for nesting deeper than
    Python's recursion limit allows)."""
    try:
        return "---\n".join(_document(obj) for obj in objects)
    except RecursionError:
        raise Unproven("nesting too deep") from None


def cache_clear() -> None:
    """Forget the cached text of keys and strings (bench/emit.py's cold figures)."""
    _key.cache_clear()
    _string.cache_clear()


def _document(obj: Any) -> str:
    """One document: promstack writes maps (and the tests lists); a top-level scalar or None (which
    jsii passes as undefined) takes another path in the yaml package and is not proven here."""
    if type(obj) is not dict and type(obj) is not list:
        raise Unproven(f"top-level {type(obj).__name__}")
    return _collection(obj, "") + "\n"


def _collection(obj: dict[Any, Any] | list[Any], indent: str) -> str:
    """A block map or sequence whose continuation lines start with ``indent``; empty ones are
    written in flow style, ``{}`` and ``[]``."""
    if type(obj) is list:
        if not obj:
            return "[]"
        inner = indent + _INDENT
        return f"\n{indent}".join("- " + _value(item, inner) for item in obj)
    # jsii drops None-valued entries of a map on its way to JavaScript.
    pairs = [(k, v) for k, v in obj.items() if v is not None]  # type: ignore[union-attr]
    if not pairs:
        return "{}"
    inner = indent + _INDENT
    lines = []
    for key, value in pairs:
        text = _value(value, inner)
        # a non-empty collection starts on the next line; an empty one, {} or [], stays on this one
        separator = f"\n{inner}" if type(value) in (dict, list) and text not in ("{}", "[]") else " "
        lines.append(f"{_key(key, inner)}:{separator}{text}")
    return f"\n{indent}".join(lines)


@functools.lru_cache(maxsize=4096)
def _key(key: Any, indent: str) -> str:
    """A map key, as an implicit (single-line) key; one longer than 1024 characters becomes an
    explicit ``? key`` in the yaml package and is Unproven here. Cached, as _string is."""
    if type(key) is not str or key in ("<<", "__proto__") or _INDEX_KEY.fullmatch(key):
        raise Unproven(f"key {key!r}")
    text = _string(key, indent, implicit_key=True)
    if len(text) > 1024:
        raise Unproven("key longer than 1024 characters")
    return text


def _value(value: Any, indent: str) -> str:
    """A scalar, or a collection that is a sequence item, at ``indent``."""
    kind = type(value)
    if kind is dict or kind is list:
        return _collection(value, indent)
    if kind is str:
        if value == "<<":
            raise Unproven("the YAML 1.1 merge key as a value")
        return _string(value, indent, implicit_key=False)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int and abs(value) <= _MAX_SAFE_INT:
        return str(value)
    if kind is float and value.is_integer() and abs(value) <= _MAX_SAFE_INT:
        negative_zero = not value and math.copysign(1.0, value) < 0
        if not negative_zero:  # JavaScript writes -0.0 as -0
            return str(int(value))  # and 1.0 as 1
    raise Unproven(f"value {value!r}")


@functools.lru_cache(maxsize=8192)
def _string(value: str, indent: str, *, implicit_key: bool) -> str:
    """stringifyString's plain path (the default string type) with the ``str`` tag's check that a
    plain scalar would read back as a string. Cached: a cluster's files repeat the same few hundred
    keys and values thousands of times, and a fleet's clusters share most of them (dashboards)."""
    if not _SAFE.fullmatch(value) or not indent:
        raise Unproven(f"string {value!r}")
    multiline = "\n" in value
    if implicit_key and multiline:
        return _quoted(value, indent, implicit_key)
    if _INDICATOR.search(value):
        return _quoted(value, indent, implicit_key) if implicit_key or not multiline else _block(value, indent)
    if multiline:
        return _block(value, indent)
    if implicit_key and indent == _INDENT and _DOC_MARKER.match(value):
        return _quoted(value, indent, implicit_key)
    if _NOT_STR.fullmatch(value):
        return _quoted(value, indent, implicit_key)
    return value


def _quoted(value: str, indent: str, implicit_key: bool) -> str:
    """quotedString: single quotes only when the value has double quotes and no single ones."""
    if '"' in value and "'" not in value:
        return _single_quoted(value, indent, implicit_key)
    return _double_quoted(value, indent, implicit_key)


def _single_quoted(value: str, indent: str, implicit_key: bool) -> str:
    """singleQuotedString: a line break is written as an empty line; whitespace around one cannot
    be, so those (and keys with line breaks) are double-quoted."""
    if (implicit_key and "\n" in value) or re.search(r"[ \t]\n|\n[ \t]", value):
        return _double_quoted(value, indent, implicit_key)
    escaped = _RUN_END.sub(f"\n\n{indent}", value.replace("'", "''"))
    return f"'{escaped}'"


def _double_quoted(value: str, indent: str, implicit_key: bool) -> str:
    """doubleQuotedString, a line-for-line port: JSON escapes; in a value of 40 or more JSON
    characters a ``\\n`` not at the end becomes real line breaks (one more than escaped, as a
    double-quoted line break folds), with spaces around them escaped so they survive."""
    text = json.dumps(value)  # equals JSON.stringify for the printable ASCII, tab and newline allowed
    size = len(text)

    def at(i: int) -> str:
        return text[i] if i < size else ""

    out: list[str] = []
    start = i = 0
    while i < size:
        ch = text[i]
        if ch == " " and at(i + 1) == "\\" and at(i + 2) == "n":
            out.append(text[start:i] + "\\ ")
            i += 1
            start = i
            ch = "\\"
        if ch == "\\":
            if at(i + 1) == "u":
                raise Unproven(f"string {value!r}")  # unreachable past _SAFE
            if at(i + 1) == "n" and not (implicit_key or at(i + 2) == '"' or size < 40):
                out.append(text[start:i] + "\n\n")
                while at(i + 2) == "\\" and at(i + 3) == "n" and at(i + 4) != '"':
                    out.append("\n")
                    i += 2
                out.append(indent)
                if at(i + 2) == " ":
                    out.append("\\")
                i += 1
                start = i + 1
            else:
                i += 1
        i += 1
    return "".join(out) + text[start:] if start else text


def _block(value: str, indent: str) -> str:
    """blockString as a literal (``|``) block, as lineWidth 0 makes it: the chomping indicator from
    the trailing whitespace (``-`` none, clip one newline, ``+`` keep more), an indentation
    indicator when the text starts with spaces; trailing spaces on the last line force quotes."""
    if re.search(r"\n[\t ]+\Z", value):
        return _quoted(value, indent, False)
    body = value.rstrip("\n\t ")
    end = value[len(body):]
    newline = end.find("\n")
    chomp = "-" if newline == -1 else "+" if value == end or newline != len(end) - 1 else ""
    value = body
    if end.endswith("\n"):
        end = end[:-1]
    end = _BLOCK_END_NEWLINES.sub(f"\n{indent}", end)
    leading_space = False
    last_newline = -1
    for i, ch in enumerate(value):
        if ch == " ":
            leading_space = True
        elif ch == "\n":
            last_newline = i
        else:
            break
    start = value[:last_newline + 1]
    value = value[len(start):]
    start = _RUN_END.sub(f"\n{indent}", start)
    header = ("2" if leading_space else "") + chomp  # the indent is never the root's here
    value = _RUN_END.sub(f"\n{indent}", value)
    return f"|{header}\n{indent}{start}{value}{end}"
