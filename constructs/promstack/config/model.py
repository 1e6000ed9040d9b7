"""What every input model shares: the ``Model`` base, the scalar types, ``ConfigError`` and ``validate_model``.

Each scalar type checks the whole value (``re.fullmatch``, never ``re.match`` with ``$``, which
also matches before a trailing newline) and its length before its grammar, so a 10 MB value or
one ending in ``\\n`` is refused in one line. A message quotes at most ``SHOWN`` characters of the
value it refuses (:func:`show`), so no error line ever carries a whole input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

#: How many characters of a refused value an error message quotes.
SHOWN = 60
#: Largest value an int64 holds: Kubernetes and Go store counts, quantities and durations in one.
INT64_MAX = 2**63 - 1


class ConfigError(Exception):
    """One or more problems in an input file; each line names the file, the field and the fix."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        # Raised in synth's worker processes and re-raised in the parent: keep the problem list.
        return ConfigError, (self.problems,)


class Model(BaseModel):
    """Frozen, strict about unknown keys and types, finite numbers, camelCase in YAML (explicit aliases win)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, strict=True,
        allow_inf_nan=False,
    )


# -- messages -------------------------------------------------------------------------------------

def show(value: Any, limit: int = SHOWN) -> str:
    """``value`` for an error message: one line, at most about ``limit`` characters of it."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 10_000:  # str() refuses ints past 4300 digits
            return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
        text = str(value)
        return text if len(text) <= limit else f"a {len(text)}-digit number"
    if isinstance(value, str):
        shown = repr(value[:limit])  # repr escapes newlines, tabs, NULs and other unprintables
        return shown if len(value) <= limit else f"{shown}... ({len(value)} characters)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)}"
    text = repr(value)
    return text if len(text) <= limit and text.isprintable() else f"a {type(value).__name__}"


def show_path(path: Any) -> str:
    """A file or folder path for an error line: as is, unless it holds control characters or is very long."""
    text = str(path)
    return text if len(text) <= 1024 and text.isprintable() else show(text, 200)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# pydantic's validator wrappers in an error location, not a key a user wrote.
_PYDANTIC_STEP = re.compile(r"function-(after|before|wrap|plain)\[.*\]")


def field_path(loc: Iterable[int | str]) -> str:
    """``adapter.rules[0].name.matches``; a key that is not a plain word as ``overrides["a.b"]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif len(part) <= 30 and _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:
            quoted = json.dumps(part[:30])  # escapes newlines and controls; a key is never echoed whole
            path += f"[{quoted[:-1]}...\"]" if len(part) > 30 else f"[{quoted}]"
    return path or "(top level)"


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as ``<what is wrong>; <what is allowed>``."""
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling against schema/cluster.schema.json"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if kind == "missing":
        return "required here; add it"
    if kind == "invalid_key":
        return f"the key {show(error.get('input'))} is not text; quote it or remove it"
    msg = re.sub(r"^(Input|String|Tuple|List|Dictionary|Value) should ", "must ", str(msg))
    if kind == "literal_error":
        return msg
    return f"{msg} (got {show(error.get('input'))})"


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict[str, Any], source: str,
                   describe: Callable[[dict[str, Any]], str] = describe) -> M:
    """``model`` from parsed YAML, or a ConfigError with one ``source: field.path: problem`` per error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and _PYDANTIC_STEP.fullmatch(p)))
            if loc[-1:] == ("[key]",):  # a bad mapping key: the message quotes it, the path stops at its mapping
                loc = loc[:-2]
            elif error["type"] == "invalid_key":
                loc = loc[:-1]
            errors.append((loc, error))
        # "too few items after validation" only repeats that an item was refused: keep the item's error.
        refused = {loc[:-1] for loc, _ in errors if loc and isinstance(loc[-1], int)}
        raise ConfigError(
            f"{source}: {field_path(loc)}: {describe(dict(error))}"
            for loc, error in errors
            if not (error["type"] == "too_short" and loc in refused)
        ) from None


# -- names ----------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns_label(value: str) -> bool:
    """A Kubernetes DNS-1123 label: what namespaces and most object names must be."""
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{show(value)} is not a valid name; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def dns_subdomain(value: str) -> str:
    """``value`` if it is a Kubernetes DNS-1123 subdomain (at most 253 characters), else a ValueError."""
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a valid name; use at most 253 lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(dns_subdomain)]


# -- Kubernetes quantities ------------------------------------------------------------------------

# resource.Quantity as apimachinery parses it (no sign: nothing here is negative).
_QUANTITY = re.compile(r"(?P<number>\+?([0-9]+(\.[0-9]*)?|\.[0-9]+))(?P<suffix>[KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?")
_QUANTITY_MAX_LENGTH = 40
_SUFFIXES = {
    "": Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def quantity_value(text: str) -> Decimal | None:
    """The number a Kubernetes quantity stands for (``250m`` -> 0.25, ``1Ki`` -> 1024), or None."""
    if len(text) > _QUANTITY_MAX_LENGTH or not (match := _QUANTITY.fullmatch(text)):
        return None
    number, suffix = Decimal(match["number"]), match["suffix"] or ""
    if suffix not in _SUFFIXES:  # e3, E-2: a decimal exponent (a lone E is exa, Ei exbi)
        exponent = int(suffix[1:])
        if abs(exponent) > 30:  # far beyond any cpu, memory or disk size
            return None
        return number.scaleb(exponent)
    return number * _SUFFIXES[suffix]


def _number_as_text(value: Any) -> Any:
    # YAML reads `cpu: 2` as a number; Kubernetes accepts it, so do we.
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and value.bit_length() > 256:
            return value  # refused as not text, without spelling out its digits
        return str(value)
    return value


def _quantity(value: str) -> str:
    amount = quantity_value(value)
    if amount is None:
        raise ValueError(f"{show(value)} is not a Kubernetes quantity; write e.g. 250m, 1, 512Mi or 10Gi")
    if amount <= 0:
        raise ValueError(f"{show(value)} is not above zero; write e.g. 250m, 1, 512Mi or 10Gi")
    if amount > INT64_MAX:
        raise ValueError(f"{show(value)} is too large; write e.g. 250m, 1, 512Mi or 10Gi")
    return value


#: A Kubernetes quantity above zero (``250m``, ``1``, ``512Mi``, ``10Gi``); a YAML number is read as its text.
Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]


# -- durations ------------------------------------------------------------------------------------

# Prometheus' model.ParseDuration: units largest first, each at most once (15d, 1w2d, 1h30m).
_DURATION = re.compile(r"(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?")
_DURATION_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
# Go's time.ParseDuration as Kubernetes CRDs (Flux) and Go flags accept it, without d, w or y.
_GO_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_GO_UNITS_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION_MAX_LENGTH = 32


def duration_ms(text: str) -> int | None:
    """Milliseconds of a Prometheus duration, or None when it is not one or overflows int64 nanoseconds."""
    if not text or len(text) > _DURATION_MAX_LENGTH or not (match := _DURATION.fullmatch(text)):
        return None
    counts = match.groups()[1::2]
    total = sum(int(n) * unit for n, unit in zip(counts, _DURATION_UNITS_MS, strict=True) if n is not None)
    return total if total * 1_000_000 <= INT64_MAX else None


def go_duration_ns(text: str) -> Decimal | None:
    """Nanoseconds of a Go duration (``90s``, ``1h30m``, ``1.5h``), or None when it is not one or overflows."""
    if len(text) > _DURATION_MAX_LENGTH or not _GO_DURATION.fullmatch(text):
        return None
    total = sum((Decimal(n) * _GO_UNITS_NS[unit] for n, unit in _GO_PART.findall(text)), Decimal(0))
    return total if total <= INT64_MAX else None


def _duration(value: str) -> str:
    if duration_ms(value) is None:
        raise ValueError(
            f"{show(value)} is not a Prometheus duration; write e.g. 30s, 15m, 12h, 15d or 2w (at most 292y)"
        )
    return value


def _positive(value: str) -> str:
    if duration_ms(value) == 0:
        raise ValueError(f"{show(value)} is zero; write e.g. 30s, 1m or 15d")
    return value


def _go_duration(value: str) -> str:
    ns = go_duration_ns(value)
    if ns is None:
        raise ValueError(f"{show(value)} is not a Go duration; write e.g. 30s, 5m or 1h (no d or w, at most 2562047h)")
    if ns == 0:
        raise ValueError(f"{show(value)} is zero; write e.g. 30s, 5m or 1h")
    return value


#: A Prometheus duration (``15m``, ``1h30m``, ``15d``, ``2w``); zero (``0s``) allowed, e.g. an alert's ``for``.
Duration = Annotated[str, AfterValidator(_duration)]
#: A Prometheus duration above zero: intervals and retention.
PositiveDuration = Annotated[str, AfterValidator(_duration), AfterValidator(_positive)]
#: A Go duration above zero (``30s``, ``5m``, ``1h``): Go flags and Flux fields; a ``d`` or ``w`` is not one.
GoDuration = Annotated[str, AfterValidator(_go_duration)]


# -- free text ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def text_problem(value: str, *, max_length: int, multiline: bool = False) -> str | None:
    """Why ``value`` is no acceptable free text (too long, a control character), or None."""
    if len(value) > max_length:
        return f"is {len(value)} characters long; keep it to {max_length}"
    control = (_CONTROL_BUT_WHITESPACE if multiline else _CONTROL).search(value)
    if control:
        return f"holds the control character {control.group()!r} at position {control.start()}; remove it"
    return None


def pattern_text(pattern: re.Pattern[str], what: str, *, max_length: int = 253, fix: str = "") -> Any:
    """A validator: the whole value matches ``pattern`` (checked after a length cap), or one line
    saying it is not ``what`` (and ``fix``, when given)."""

    def check(value: str) -> str:
        if len(value) > max_length or not pattern.fullmatch(value):
            raise ValueError(f"{show(value)} is not {what}" + (f"; {fix}" if fix else ""))
        return value

    return AfterValidator(check)


def free_text(max_length: int) -> Any:
    """A validator: one line of text of at most ``max_length`` characters, no control characters."""

    def check(value: str) -> str:
        problem = text_problem(value, max_length=max_length)
        if problem:
            raise ValueError(f"{show(value)} {problem}")
        return value

    return AfterValidator(check)


#: One line of free text (a channel, a user name, a label value, a replacement): no control characters.
Text = Annotated[str, free_text(1024)]
#: A key of a Secret: what `promstack seal` stores, and what a *_file setting points at.
SecretKey = Annotated[str, pattern_text(re.compile(r"[-._a-zA-Z0-9]{1,253}"),
                                        "a Secret key (letters, digits, '-', '_', '.')")]
#: A Prometheus label name.
LabelName = Annotated[str, pattern_text(re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,127}"), "a Prometheus label name")]
#: host:port, as a scrape target or an SMTP smarthost.
HostPort = Annotated[str, pattern_text(re.compile(r"[a-zA-Z0-9]([-.a-zA-Z0-9]{0,251}[a-zA-Z0-9])?:[0-9]{1,5}"),
                                       "host:port")]
