"""User regular expressions, checked and run with RE2, the engine Prometheus and prometheus-adapter use.

Go's regexp package is RE2: no lookaround, no backreferences, no possessive quantifiers, and matching
in time linear in the input. Python's ``re`` backtracks, so a pattern such as ``^(\\w*\\w*)*!$``
can run for hours on a short name, and accepts syntax the stack's binaries refuse. Every regex a user
writes in cluster.yaml is compiled here (google-re2, the C++ RE2 library) and, where promstack runs it
itself (the HPA check), matched here too: no input can backtrack.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import re2

from promstack.config.model import show, text_problem

#: The longest regex cluster.yaml accepts (RE2 also caps a compiled program's memory).
MAX_LENGTH = 1024

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error goes into one finding, not into RE2's own stderr log


class Match(Protocol):
    def group(self, index: int = 0, /) -> str | None: ...
    def groups(self) -> tuple[str | None, ...]: ...


class Pattern(Protocol):
    def search(self, text: str) -> Match | None: ...
    def fullmatch(self, text: str) -> Match | None: ...


class NotRe2(ValueError):
    """A pattern RE2 refuses; the message is one ``'<regex>' is not an RE2 regular expression (...)`` line."""


def _fix(reason: str) -> str:
    if "perl operator: (?=" in reason or "perl operator: (?!" in reason or "perl operator: (?<" in reason:
        return "RE2 has no lookahead or lookbehind; match the text itself, or filter in a second step"
    if "escape sequence: \\" in reason and reason.rstrip()[-1:].isdigit():
        return "RE2 has no backreferences; spell the repeated part out"
    if "repetition operator: ++" in reason or "repetition operator: *+" in reason \
            or "repetition operator: ?+" in reason or "repetition operator: }+" in reason:
        return "RE2 has no possessive quantifiers; drop the trailing '+'"
    return "fix it to Go's regexp syntax (RE2)"


def compile_re2(value: str) -> Pattern:
    """``value`` compiled with RE2, or NotRe2 naming the pattern (clipped), RE2's reason and a fix."""
    problem = text_problem(value, max_length=MAX_LENGTH)
    if problem:
        raise NotRe2(f"{show(value)} {problem}")
    try:
        return cast(Pattern, re2.compile(value, _OPTIONS))
    except re2.error as exc:
        raw: Any = exc.args[0] if exc.args else ""
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        reason = reason if len(reason) <= 80 else reason[:77] + "..."
        raise NotRe2(f"{show(value)} is not an RE2 regular expression ({reason}); {_fix(reason)}") from None


def re2_regex(value: str) -> str:
    """A pydantic AfterValidator: ``value`` unchanged if RE2 compiles it."""
    compile_re2(value)
    return value
