"""What every input model shares: the ``Model`` base, the scalar types, ``ConfigError`` and ``validate_model``.

cluster.yaml, fleet.yaml, the alert thresholds and the adapter rules are all read through these,
so a name, a quantity or a duration is checked one way and every problem is reported as one
``<file>: <field.path>: <what is wrong>; <what is allowed>`` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class ConfigError(Exception):
    """One or more problems in an input file; each line names the file, the field and the fix."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        # Raised in synth's worker processes and re-raised in the parent: keep the problem list.
        return ConfigError, (self.problems,)


class Model(BaseModel):
    """Frozen, strict about unknown keys and types, camelCase in YAML (explicit aliases win)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, strict=True
    )


# -- messages -------------------------------------------------------------------------------------

def field_path(loc: Iterable[int | str]) -> str:
    """``adapter.rules[0].name.matches``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as ``<what is wrong>; <what is allowed>``."""
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling against schema/cluster.schema.json"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required here; add it"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be")
    return f"{msg.replace('Input should be', 'must be')} (got {error.get('input')!r})"


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: dict[str, Any], source: str,
                   describe: Callable[[dict[str, Any]], str] = describe) -> M:
    """``model`` from parsed YAML, or a ConfigError with one ``source: field.path: problem`` per error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # Validator wrappers (function-after[...]) are pydantic's, not a field a user wrote.
            loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
            problems.append(f"{source}: {field_path(loc)}: {describe(dict(error))}")
        raise ConfigError(problems) from None


# -- names ----------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(value: str) -> bool:
    """A Kubernetes DNS-1123 label: what namespaces and most object names must be."""
    return bool(_DNS1123_LABEL.match(value)) and len(value) <= 63


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a valid name; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]


# -- Kubernetes quantities ------------------------------------------------------------------------

# resource.Quantity, as apimachinery parses it.
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$")


def _number_as_text(value: Any) -> Any:
    # YAML reads `cpu: 2` as a number; Kubernetes accepts it, so do we.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity; write e.g. 250m, 1, 512Mi or 10Gi")
    return value


#: A Kubernetes quantity (``250m``, ``1``, ``512Mi``, ``10Gi``); a YAML number is read as its text.
Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]


# -- durations ------------------------------------------------------------------------------------

# Prometheus' model.ParseDuration: units largest first, each at most once (15d, 1w2d, 1h30m).
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


def _duration(value: str) -> str:
    if not value or not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a Prometheus duration; write e.g. 5m, 12h, 15d or 2w")
    return value


#: A Prometheus duration (``15m``, ``1h30m``, ``15d``, ``2w``).
Duration = Annotated[str, AfterValidator(_duration)]
