"""Ordering and printing of findings: one line each, or a JSON list.

Text: ``file: Kind/namespace/name: field.path: message``. A cluster-scoped object (or one
missing its namespace) prints with an empty namespace, ``Kind//name``, so the object part
always has three slash-separated fields. A finding about a file rather than an object
(private-key material, a document that is not an object) prints as ``file: path: message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from promstack.validate.findings import Finding, printable

_NUMBER = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[tuple[int, str], ...]:
    """``containers[10]`` after ``containers[2]``."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in _NUMBER.split(text))


def sort_key(f: Finding) -> tuple[object, ...]:
    return (f.file, f.kind, f.namespace, f.name, _natural(f.path), f.message, f.check)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Unique findings in a stable order: file, object, field path (numbers by value), message."""
    return sorted(set(findings), key=sort_key)


def format_line(f: Finding) -> str:
    """One line, whatever the input held: control characters in any field are escaped."""
    if not f.kind:
        line = f"{f.file}: {f.path}: {f.message}"
    else:
        line = f"{f.file}: {f.kind}/{f.namespace}/{f.name}: {f.path}: {f.message}"
    return printable(line)


def format_text(findings: Iterable[Finding]) -> str:
    return "".join(format_line(f) + "\n" for f in ordered(findings))


def format_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.as_dict() for f in ordered(findings)], indent=2) + "\n"
