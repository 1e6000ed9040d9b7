"""A fast yes/no answer to "does jsonschema find no error in this object?", for the core-kind schemas.

jsonschema builds a validator object and a referencing resource for every value it descends
into, about 10 microseconds each, and a cluster's objects are checked against the schemas of
eleven Kubernetes minors. Almost every object is valid, and then only that answer matters. So
each core-kind schema is also compiled into plain Python checks (``compile_schema``), which say
whether an object is valid; an object they do not pass is checked by jsonschema, whose errors
are the findings. The checks therefore never need to agree with jsonschema's messages, only with
its verdict, and only one way matters for correctness: they must never pass an object that
jsonschema would fault.

They cover exactly the keywords the Kubernetes schemas use, with jsonschema's Draft 2020-12
semantics: ``$ref`` (looked up with jsonschema's own resolver), ``type``, ``properties``,
``additionalProperties``, ``required``, ``items``, ``enum`` (jsonschema's equality: ``1`` is not
``true``), ``format`` (the validator's format checker) and ``oneOf``. A schema using any other
keyword, or a nested ``$schema``, is not compiled (``Unsupported``): its objects go to jsonschema.

Definitions are compiled once per ``definition_fingerprint`` (the definition and everything it
reaches), so the minors that share a definition share its checks; within one object (from
``Checker.begin`` on, over all the minors' schemas), each (definition, value) pair is checked once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import referencing.jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema._utils import equal
from referencing.exceptions import Unresolvable

Check = Callable[[Any], bool]

#: Keywords compiled here; any other keyword jsonschema applies makes a schema Unsupported.
SUPPORTED = frozenset({"$ref", "type", "properties", "additionalProperties", "required", "items", "enum", "format",
                       "oneOf"})
_KEYWORDS = frozenset(Draft202012Validator.VALIDATORS)


class Unsupported(Exception):
    """A schema these checks do not cover (its objects are left to jsonschema)."""


def _is_integer(x: Any) -> bool:
    return not isinstance(x, bool) and (isinstance(x, int) or (isinstance(x, float) and x.is_integer()))


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


#: Draft 2020-12's type checker (jsonschema.validators.Draft202012Validator.TYPE_CHECKER) for the
#: values YAML and JSON give: bool is neither integer nor number, 1.0 is an integer.
_TYPES: dict[str, Check] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": _is_integer,
    "null": lambda x: x is None,
    "number": _is_number,
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


def _always(x: Any) -> bool:
    return True


def _never(x: Any) -> bool:
    return False


def _valid_type(names: tuple[str, ...]) -> Check:
    if len(names) == 1:
        return _TYPES[names[0]]
    if sorted(names) == ["null", "string"]:  # the most common type in the schemas, by far
        return lambda x: x is None or isinstance(x, str)
    checks = [_TYPES[n] for n in names]
    return lambda x: any(check(x) for check in checks)


class Checker:
    """Compiled checks for one format checker; call ``begin`` before checking each new object."""

    def __init__(self, format_checker: FormatChecker | None,
                 definition_key: Callable[[Any], Hashable | None]) -> None:
        self.format_checker = format_checker
        self.definition_key = definition_key  # a $ref target -> a key shared by identical definitions, or None
        self._targets: dict[Hashable, list[Check | None]] = {}
        self._memo: dict[tuple[int, int], bool] = {}

    def begin(self) -> None:
        """Start a new object: values of the previous one are no longer remembered."""
        self._memo = {}

    def compile_schema(self, schema: Any, resolver: Any) -> Check:
        """The check of a top-level schema (a kind's), with the resolver jsonschema starts from."""
        return self._compile(schema, resolver, top=True)

    def _compile(self, schema: Any, resolver: Any, top: bool = False, via_ref: bool = False) -> Check:
        """``top``: the schema a validator starts from; ``via_ref``: a $ref target, whose resolver is
        the one the lookup gave (jsonschema enters neither into the schema's own ``$id``)."""
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema that is a {type(schema).__name__}")
        if not top:
            if "$schema" in schema:
                raise Unsupported("a nested $schema")
            if "$id" in schema and not via_ref:
                resolver = resolver.in_subresource(referencing.jsonschema.DRAFT202012.create_resource(schema))
        unknown = [k for k in schema if k in _KEYWORDS and k not in SUPPORTED]
        if unknown:
            raise Unsupported(f"keyword {unknown[0]}")
        checks: list[Check] = []
        if "type" in schema:
            names = schema["type"]
            names = tuple(names) if isinstance(names, list) else (names,)
            if not all(isinstance(n, str) and n in _TYPES for n in names):
                raise Unsupported(f"type {names!r}")
            checks.append(_valid_type(names))
        if "enum" in schema:
            checks.append(self._enum(schema["enum"]))
        if "format" in schema and self.format_checker is not None:
            checker, fmt = self.format_checker, schema["format"]
            if fmt in checker.checkers:
                checks.append(lambda x: bool(checker.conforms(x, fmt)))
        if "required" in schema:
            required = list(schema["required"])
            checks.append(lambda x: not isinstance(x, dict) or all(name in x for name in required))
        if "properties" in schema or "additionalProperties" in schema:
            checks.append(self._object(schema, resolver))
        if "items" in schema:
            checks.append(self._items(schema["items"], resolver))
        if "oneOf" in schema:
            options = [self._compile(s, resolver) for s in schema["oneOf"]]
            checks.append(lambda x: sum(1 for option in options if option(x)) == 1)
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"], resolver))
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(check(x) for check in checks)

    def _enum(self, values: Any) -> Check:
        if not isinstance(values, list):
            raise Unsupported("enum that is not a list")
        texts = frozenset(v for v in values if isinstance(v, str))
        others = [v for v in values if not isinstance(v, str)]

        def check(x: Any) -> bool:
            if isinstance(x, str):
                return x in texts  # jsonschema's equal() of a string is ==
            return any(equal(v, x) for v in others)
        return check

    def _object(self, schema: dict[str, Any], resolver: Any) -> Check:
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise Unsupported("properties that are not a mapping")
        known = {name: self._compile(sub, resolver) for name, sub in properties.items()}
        extra_schema = schema.get("additionalProperties", True)
        extra: Check | None
        if extra_schema is True or "additionalProperties" not in schema:
            extra = None
        elif extra_schema is False:
            extra = _never
        else:
            extra = self._compile(extra_schema, resolver)
        if extra is None:
            def check(x: Any) -> bool:
                if not isinstance(x, dict):
                    return True
                for name, value in x.items():
                    sub = known.get(name)
                    if sub is not None and not sub(value):
                        return False
                return True
            return check
        rest = extra

        def check_closed(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name, value in x.items():
                sub = known.get(name)
                if sub is None:
                    if not rest(value):
                        return False
                elif not sub(value):
                    return False
            return True
        return check_closed

    def _items(self, schema: Any, resolver: Any) -> Check:
        item = self._compile(schema, resolver)
        return lambda x: not isinstance(x, list) or all(item(v) for v in x)

    def _ref(self, ref: Any, resolver: Any) -> Check:
        if not isinstance(ref, str):
            raise Unsupported("a $ref that is not a string")
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable as exc:
            raise Unsupported(f"$ref {ref!r} does not resolve") from exc
        contents = resolved.contents
        key = self.definition_key(contents)
        if key is None:
            key = ("schema", id(contents), ref)
        cell = self._targets.get(key)
        if cell is None:
            cell = self._targets[key] = [None]  # filled below; a recursive $ref reads it when called
            try:
                cell[0] = self._compile(contents, resolved.resolver, via_ref=True)
            except Unsupported:
                del self._targets[key]
                raise
        memo_id = id(cell)

        def check(x: Any) -> bool:
            target = cell[0]
            assert target is not None
            if not isinstance(x, dict | list):
                return target(x)
            memo = self._memo
            at = (memo_id, id(x))
            known = memo.get(at)
            if known is None:
                known = memo[at] = target(x)
            return known
        return check
