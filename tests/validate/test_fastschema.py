"""The compiled schema checks pass exactly the objects in which jsonschema finds no error."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from promstack.validate import fastschema, gate, loader, schemas

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def shipped_objects() -> list[loader.Document]:
    docs = []
    for path in sorted([*(ROOT / "dist").rglob("*.yaml"), *FIXTURES.rglob("*.yaml")]):
        try:
            docs += [d for d in loader.load_file(path) if d.is_object]
        except loader.InputError:
            continue  # fixtures of unreadable input
    return docs


OBJECTS = shipped_objects()
MINORS = gate.resolve_versions(None)


def verdicts(obj: Any, api_version: str, kind: str) -> list[tuple[str, bool | None, bool]]:
    """For each minor serving the kind: (minor, the compiled check's verdict, jsonschema's)."""
    cat = schemas.catalog()
    out = []
    for minor in MINORS:
        compiled = cat.core_validator(minor, api_version, kind)
        if compiled is None:
            continue
        fp, validator = compiled
        fast = cat.fast_check(fp)
        cat.checker.begin()
        out.append((minor, None if fast is None else fast(obj), not schemas._errors(validator, obj)))
    return out


def core(doc: loader.Document) -> bool:
    return schemas.catalog().core_validator(MINORS[-1], doc.api_version, doc.kind) is not None


def test_every_shipped_kind_is_compiled_and_agrees() -> None:
    checked = 0
    for doc in OBJECTS:
        for minor, fast, valid in verdicts(doc.obj, doc.api_version, doc.kind):
            assert fast is not None, f"{doc.kind}: its schema in {minor} is left to jsonschema"
            assert fast == valid, f"{doc.file} {doc.ref} in {minor}"
            checked += 1
    assert checked > 1000


VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, "", "x", "1", "100Mi", "1e3", "12x", "TCP", "Always",
                     "IfNotPresent", "ClusterIP", [], {}, [1], ["x"], {"a": 1}, {"name": "x"}, [{"name": "x"}]]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    found = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nodes(v, (*path, i))
    return found


def mutate(obj: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``obj`` with one value replaced, one key added or removed, or one list changed."""
    out = copy.deepcopy(obj)
    path, node = rng.choice([(p, n) for p, n in _nodes(out) if p and p[0] not in ("apiVersion", "kind")])
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    move = rng.randrange(4)
    if move == 0:
        parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    elif move == 1 and isinstance(parent, dict):
        del parent[path[-1]]
    elif move == 2 and isinstance(node, dict):
        node[rng.choice(["bogus", "name", "value", "port", "type", "spec"])] = copy.deepcopy(rng.choice(VALUES))
    elif isinstance(node, list):
        node.append(copy.deepcopy(rng.choice([*VALUES, *node])))
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return out


def test_mutated_objects_get_jsonschemas_verdict() -> None:
    """Values of the wrong type, unknown and missing fields, bad enums and quantities, 1.0 for 1:
    the compiled checks pass an object exactly when jsonschema finds no error in it, in every minor."""
    rng = random.Random(20261206)
    objects = [d for d in OBJECTS if core(d)]
    outcomes = {True: 0, False: 0}
    for _ in range(700):
        doc = rng.choice(objects)
        obj = mutate(doc.obj, rng)
        for minor, fast, valid in verdicts(obj, doc.api_version, doc.kind):
            assert fast == valid, f"{doc.ref} in {minor} after a mutation: {obj}"
            outcomes[valid] += 1
    assert outcomes[True] > 500 and outcomes[False] > 500  # both verdicts were tested, many times


REGISTRY_SCHEMA = {
    "$defs": {
        "Item": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
                 "additionalProperties": False},
        "Tree": {"type": ["object", "null"],
                 "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}},
    },
}


@pytest.mark.parametrize(("schema", "instances"), [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None, 2**70]),
    ({"type": "number"}, [1, 1.5, True, False, "1", float("inf")]),
    ({"type": ["string", "null"]}, ["", None, 0, []]),
    ({"type": "boolean"}, [True, 0, "true"]),
    ({"enum": ["a", 1, None]}, ["a", 1, True, 1.0, None, "1", []]),
    ({"enum": [True, [1], {"a": 1}]}, [True, 1, [1], [True], {"a": 1}, {"a": True}]),
    ({"required": ["a"]}, [{"a": 1}, {}, [], "a"]),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, [{"a": "x"}, {"a": 1}, {"b": 1}, 5]),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}, [{"b": 1}, {"b": "x"}]),
    ({"additionalProperties": True}, [{"b": 1}]),
    ({"items": {"type": "string"}}, [["a"], ["a", 1], [], "ab"]),
    ({"items": False}, [[], [1]]),
    ({"oneOf": [{"type": "string"}, {"type": "integer"}, {"enum": [1]}]}, ["x", 2, 1, None]),
    ({"format": schemas.QUANTITY_FORMAT}, ["100Mi", "1.5", "12x", 3, None, True]),
    ({"format": "int32"}, ["not checked", 2**40]),
    ({"$ref": "#/$defs/Item"}, [{"n": 1}, {"n": "1"}, {}, {"n": 1, "m": 2}]),
    ({"$ref": "#/$defs/Tree"}, [None, {"kids": [None, {"kids": []}]}, {"kids": [{"kids": [1]}]}]),
    (True, [1, None]),
    (False, [1, None]),
])
def test_each_keyword_has_jsonschemas_meaning(schema: Any, instances: list[Any]) -> None:
    full = {**REGISTRY_SCHEMA, **schema} if isinstance(schema, dict) else schema
    validator: Any = schemas._Validator(full, format_checker=schemas.FORMATS)
    checker = fastschema.Checker(schemas.FORMATS, lambda _: None)
    check = checker.compile_schema(full, validator._resolver)
    for instance in instances:
        checker.begin()
        assert check(instance) == (not list(validator.iter_errors(instance))), instance


@pytest.mark.parametrize("schema", [
    {"pattern": "^a"},
    {"properties": {"a": {"minLength": 1}}},
    {"patternProperties": {"^a": {}}},
    {"items": {"$schema": "http://json-schema.org/draft-04/schema#"}},
    {"type": "color"},
    {"$ref": "#/$defs/Missing"},
])
def test_a_keyword_not_compiled_leaves_the_schema_to_jsonschema(schema: dict[str, Any]) -> None:
    validator: Any = schemas._Validator(schema, format_checker=schemas.FORMATS)
    with pytest.raises(fastschema.Unsupported):
        fastschema.Checker(schemas.FORMATS, lambda _: None).compile_schema(schema, validator._resolver)
