"""The one record every check produces, and how a field path is spelled."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

#: Check families, the ``check`` field of a finding.
SCHEMA = "schema"
WIRING = "wiring"
POLICY = "policy"
PROMTOOL = "promtool"
UPGRADE = "upgrade"
REACHABILITY = "reachability"

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: C0 and C1 control characters, DEL and the Unicode line separators: never printed raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Characters of input a message or path shows at most.
CLIP = 80

PathPart = str | int


@dataclass(frozen=True)
class Finding:
    """One problem: where it is (file, object, field path) and what is wrong.

    ``kind``, ``namespace`` and ``name`` are empty for a finding about a file rather than an
    object (private-key material, a document that is not an object).
    """

    file: str
    kind: str
    namespace: str
    name: str
    path: str
    message: str
    check: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def format_path(parts: Iterable[PathPart]) -> str:
    """``("spec", "ports", 0, "app.kubernetes.io/name")`` -> ``spec.ports[0]["app.kubernetes.io/name"]``.

    Plain keys are joined with dots, list indices in brackets, and keys holding any other
    character (dots, slashes: label keys, file names) in quoted brackets. The empty path is ``.``.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{clip(part, CLIP)}" if out else clip(part, CLIP)
        else:
            out += '["' + clip(part.replace("\\", "\\\\").replace('"', '\\"'), CLIP) + '"]'
    return out or "."


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x00``): it prints on one line."""
    return _CONTROL.sub(_escape, text)


def clip(text: str, limit: int = CLIP) -> str:
    """``text`` printable and cut to ``limit`` characters (``...`` marks a cut) for messages."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: Any, limit: int = 60) -> str:
    """A value as JSON, cut to ``limit`` characters (default 60) for messages."""
    import json

    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
