"""Strict schema validation of every object, core kinds per Kubernetes minor, custom resources per CRD.

Core kinds are checked against the *standalone-strict* JSON schemas that the PyPI package
kubernetes-validate ships (``additionalProperties: false`` wherever the API has a closed set
of fields) for each supported minor: every minor from 1.27 up to the newest the installed
package ships (1.37 with the pinned kubernetes-validate 1.37.0). Custom resources are checked
against their CRD's openAPIV3Schema (``crds.py``): the vendored ones, or a CRD in the same unit.

Speed: a validator is compiled once per (schema content, kind) and kept for the process; the
kind's schema plus every definition it reaches is fingerprinted with descriptions removed, so
minors whose schema for a kind is identical share one validator and one validation of each
object. kubernetes-validate's one-call API instead re-reads the 1.8 MB definitions file for
every object and version. Each core-kind schema is also compiled into plain Python checks
(``fastschema``) that say whether an object is valid, about six times faster than jsonschema;
only an object they do not pass is validated by jsonschema, whose errors are the findings. There,
within a process, every ``$ref`` remembers the (schema, value) pairs it found valid
(``_remembered_ref``): a fleet with the same mistake in every cluster repeats the same
containers, probes, ports and volumes, and each is then checked once, not once per cluster.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache, cached_property
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema._utils import find_additional_properties
from jsonschema.exceptions import SchemaError, UnknownType
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from promstack.validate import crds, fastschema, k8s
from promstack.validate.findings import SCHEMA, Finding, PathPart, clip, short
from promstack.validate.k8s import as_list
from promstack.validate.loader import Document

MIN_MINOR = (1, 27)
QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_FORMAT = "k8s-quantity"
#: Checks only the quantity format: the formats the schemas name (int32, byte, date-time) stay annotations.
FORMATS = FormatChecker(formats=())


def _is_quantity(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return True  # null, or a type error the type check reports
    return k8s.parse_quantity(value) is not None


# Registered by a call, not as a decorator: jsonschema is untyped, and its decorator would leave
# the function untyped too.
FORMATS.checks(QUANTITY_FORMAT)(_is_quantity)

_DIR_NAME = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
#: A kind or a group-version stem that can name one of kubernetes-validate's schema files (``rbac-v1``, ``Deployment``).
_FILE_PART = re.compile(r"[A-Za-z0-9-]{1,100}")
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def _schema_root() -> Any:
    return resources.files("kubernetes_validate") / "kubernetes-json-schema"


@cache
def supported_versions() -> tuple[str, ...]:
    """Minors validated by default: 1.27 through the newest kubernetes-validate ships, ascending."""
    minors = sorted(
        (int(m.group(1)), int(m.group(2))) for entry in _schema_root().iterdir() if (m := _DIR_NAME.match(entry.name))
    )
    return tuple(f"{a}.{b}" for a, b in minors if (a, b) >= MIN_MINOR)


def normalize_version(text: str) -> str:
    """``"v1.30.2"`` / ``"1.30"`` -> ``"1.30"``; ValueError outside the supported range."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", text.strip())
    supported = supported_versions()
    minor = f"{int(match.group(1))}.{int(match.group(2))}" if match else text
    if minor not in supported:
        raise ValueError(f"unsupported Kubernetes version {text!r}: supported are {supported[0]} to {supported[-1]}")
    return minor


def version_ranges(versions: Collection[str]) -> str:
    """``{"1.27", "1.28", "1.30"}`` -> ``"1.27-1.28, 1.30"`` (runs of consecutive supported minors)."""
    order = supported_versions()
    runs: list[list[str]] = []
    for v in order:
        if v in versions:
            if runs and order.index(runs[-1][-1]) == order.index(v) - 1:
                runs[-1].append(v)
            else:
                runs.append([v])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[-1]
        for key, value in node.items():
            if key not in ("enum", "default"):
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _digest(node: Any) -> str:
    text = json.dumps(crds.strip_descriptions(node), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class _MinorSchemas:
    """The strict schemas of one Kubernetes minor, read lazily: one registry, kind files on demand."""

    def __init__(self, minor: str) -> None:
        self.minor = minor
        self.dir = _schema_root() / f"v{minor}.0-local-strict"
        self._kinds: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._def_digests: dict[str, str] = {}
        self._def_refs: dict[str, list[str]] = {}
        self._def_fingerprints: dict[str, str] = {}

    @cached_property
    def definitions(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "_definitions.json").read_text(encoding="utf-8"))
        # The schemas accept any string as a quantity; the API server parses it.
        data["$defs"][QUANTITY_DEF] = {"type": ["string", "number", "null"], "format": QUANTITY_FORMAT}
        for name, definition in data["$defs"].items():
            _DEFINITIONS[id(definition)] = (definition, self, name)
        return data

    def definition_fingerprint(self, name: str) -> str:
        """``fingerprint`` of one definition: equal in the minors where it validates the same."""
        if name not in self._def_fingerprints:
            self._def_fingerprints[name] = self.fingerprint(self.definitions["$defs"][name])
        return self._def_fingerprints[name]

    @cached_property
    def registry(self) -> Registry[Any]:
        defs = self.definitions
        registry: Registry[Any] = Registry().with_resource(defs["$id"], Resource.from_contents(defs))
        return registry

    def kind_schema(self, api_version: str, kind: str) -> dict[str, Any] | None:
        """The strict schema of ``kind`` in ``api_version``, or None when this minor does not serve it."""
        key = (api_version, kind)
        if key not in self._kinds:
            self._kinds[key] = self._load_kind(api_version, kind)
        return self._kinds[key]

    def _load_kind(self, api_version: str, kind: str) -> dict[str, Any] | None:
        group, _, version = api_version.rpartition("/")
        # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
        stem = f"{group.split('.')[0]}-{version}" if group else version
        if not (_FILE_PART.fullmatch(kind) and _FILE_PART.fullmatch(stem)):
            return None  # no such file: and a NUL, a '/' or 300 characters would make the lookup itself fail
        path = self.dir / f"{kind.lower()}-{stem}.json"
        if not path.is_file():
            return None
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any((g.get("group", ""), g.get("version"), g.get("kind")) == (group, version, kind) for g in gvks):
            return None  # e.g. apps.example.com/v1 would otherwise map to apps-v1
        return schema

    def fingerprint(self, schema: dict[str, Any]) -> str:
        """Digest of ``schema`` and every definition it reaches, descriptions ignored."""
        defs = self.definitions["$defs"]
        seen: set[str] = set()
        todo = list(_refs(schema))
        while todo:
            name = todo.pop()
            if name in seen or name not in defs:
                continue
            seen.add(name)
            if name not in self._def_digests:
                self._def_digests[name] = _digest(defs[name])
                self._def_refs[name] = list(_refs(defs[name]))
            todo.extend(self._def_refs[name])
        parts = [_digest(schema), *(f"{n}={self._def_digests[n]}" for n in sorted(seen))]
        return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()


def _type_names(value: Any) -> list[str]:
    names = value if isinstance(value, list) else [value]
    return [n for n in names if n != "null"]


def _json_type(instance: Any) -> str:
    return "null" if instance is None else _JSON_TYPES.get(type(instance), type(instance).__name__)


def _describe(err: jsonschema.ValidationError) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    """Field path and message for one validation error, phrased for a manifest author."""
    path = tuple(err.absolute_path)
    instance = err.instance
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        props = schema.get("properties") or {}
        patterns = list((schema.get("patternProperties") or {}).keys())
        for key in instance:
            if key not in props and not any(re.search(p, key) for p in patterns):
                yield (*path, key), "unknown field"
        return
    if err.validator == "required" and isinstance(instance, dict):
        for key in as_list(err.validator_value):
            if key not in instance:
                yield (*path, key), "required field is missing"
        return
    if err.validator == "type":
        expected = " or ".join(_type_names(err.validator_value)) or "null"
        yield path, f"expected {expected}, got {_json_type(instance)} {short(instance)}"
        return
    if err.validator in ("oneOf", "anyOf") and err.context and all(e.validator == "type" for e in err.context):
        names: list[str] = []
        for sub in err.context:
            names += [n for n in _type_names(sub.validator_value) if n not in names]
        yield path, f"expected {' or '.join(names)}, got {_json_type(instance)} {short(instance)}"
        return
    if err.validator == "format" and err.validator_value == QUANTITY_FORMAT:
        yield path, f"invalid quantity {short(instance)}: {k8s.quantity_error(instance)}"
        return
    if err.validator == "enum":
        yield path, f"{short(instance)} is not one of {short(err.validator_value, 200)}"
        return
    message = err.message
    if len(message) > 200:
        message = f"{short(instance)} does not match the schema ({err.validator} {short(err.validator_value)})"
    yield path, message


#: Whether the object being validated is plain JSON (string keys, no NaN, no other types), so that
#: its canonical JSON text identifies each of its values, types included (1, 1.0 and true differ).
_PLAIN_JSON: contextvars.ContextVar[bool] = contextvars.ContextVar("_PLAIN_JSON", default=False)
#: (format checker, the resolved schema's identity, digest of the value's canonical JSON) -> that
#: schema, for the pairs found valid. A core definition is identified by its fingerprint, so minors
#: that define it alike share the result; any other schema by its id (holding the schema keeps the
#: id its own). Emptied when full, a bound on memory.
_VALID: dict[tuple[int, str | int, bytes], Any] = {}
_VALID_MAX = 500_000
#: id(core definition) -> (that definition, its minor, its name), filled as the definitions load.
_DEFINITIONS: dict[int, tuple[Any, _MinorSchemas, str]] = {}


#: The digest of each value of the object being validated whose canonical JSON was computed, by id
#: (holding the value keeps the id its own): every minor's validation of one object shares them.
_DIGESTS: contextvars.ContextVar[dict[int, tuple[Any, bytes]] | None] = contextvars.ContextVar("_DIGESTS", default=None)
#: (id of a resolver, a $ref) -> (that resolver, kept so the id stays its own; what it resolves to).
#: A resolver and its registry are immutable and the schemas use no $dynamicRef, so a lookup's
#: result depends on nothing else; the resolved schema's own resolver is then reused too, so the
#: $refs below it hit as well. Emptied when full.
_LOOKUPS: dict[tuple[int, str], tuple[Any, Any]] = {}
_LOOKUPS_MAX = 100_000


def _definition_key(schema: Any) -> tuple[str, str] | None:
    """A key equal for the minors' copies of a definition that validate the same; None for another schema."""
    known = _DEFINITIONS.get(id(schema))
    if known is not None and known[0] is schema:
        return ("definition", known[1].definition_fingerprint(known[2]))
    return None


def _identity(schema: Any) -> str | int:
    known = _DEFINITIONS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1].definition_fingerprint(known[2])
    return id(schema)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain_json(obj: Any) -> bool:
    try:
        return bool(json.loads(_canonical(obj)) == obj)
    except (TypeError, ValueError):
        return False


def _digest_of(instance: Any) -> bytes:
    """Digest of ``instance``'s canonical JSON, computed once per value of the object being validated."""
    digests = _DIGESTS.get()
    known = digests.get(id(instance)) if digests is not None else None
    if known is not None and known[0] is instance:
        return known[1]
    digest = hashlib.blake2b(_canonical(instance).encode(), digest_size=16).digest()
    if digests is not None:
        digests[id(instance)] = (instance, digest)
    return digest


def _remembered_ref(validator: Any, ref: str, instance: Any, schema: Any) -> Iterable[Any]:
    """``$ref`` as jsonschema checks it, skipping a value this schema already found valid. The
    result depends only on the resolved schema, the value and the format checker (the schemas use
    no $dynamicRef), so a remembered pass is the pass a fresh check would give; errors are never
    remembered (their paths are filled in by the caller)."""
    if not _PLAIN_JSON.get():
        yield from _REF(validator, ref, instance, schema)
        return
    resolver = validator._resolver
    looked_up = _LOOKUPS.get((id(resolver), ref))
    if looked_up is not None and looked_up[0] is resolver:
        resolved = looked_up[1]
    else:
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable:
            yield from _REF(validator, ref, instance, schema)  # raises as jsonschema does
            return
        if len(_LOOKUPS) >= _LOOKUPS_MAX:
            _LOOKUPS.clear()
        _LOOKUPS[(id(resolver), ref)] = (resolver, resolved)
    identity = _identity(resolved.contents)
    key = (id(validator.format_checker), identity, _digest_of(instance))
    known = _VALID.get(key)
    if known is not None and (isinstance(identity, str) or known is resolved.contents):
        return
    errors = list(validator.descend(instance, resolved.contents, resolver=resolved.resolver))
    if not errors:
        if len(_VALID) >= _VALID_MAX:
            _VALID.clear()
        _VALID[key] = resolved.contents
    yield from errors


#: The JSON types every validator knows (``is_type`` raises UnknownType for any other name).
_KNOWN_TYPES = frozenset({"string", "integer", "number", "boolean", "null", "object", "array"})
_PLAIN_KEYWORDS = frozenset({"type", "enum", "format"})
_ABSENT = object()
#: id(schema) -> (that schema, kept so the id stays its own; ``_plain`` of it).
_PLAIN_SCHEMAS: dict[int, tuple[Any, tuple[Any, Any, Any] | None]] = {}


def _plain(schema: Any) -> tuple[Any, Any, Any] | None:
    """(types, enum, format) of a schema whose only checks are ``type`` (known types), ``enum`` and
    ``format`` (a leaf such as ``{"type": ["string", "null"], "description": ...}``); None for any other."""
    known = _PLAIN_SCHEMAS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    plain = None
    if isinstance(schema, dict) and all(
        isinstance(k, str) and (k in _PLAIN_KEYWORDS or (k not in _VALIDATORS and not k.startswith("$")))
        for k in schema
    ):
        types = schema.get("type", _ABSENT)
        names = types if isinstance(types, list) else [types]
        if types is _ABSENT or all(isinstance(n, str) and n in _KNOWN_TYPES for n in names):
            plain = (_ABSENT if types is _ABSENT else tuple(names), schema.get("enum", _ABSENT),
                     schema.get("format", _ABSENT))
    _PLAIN_SCHEMAS[id(schema)] = (schema, plain)
    return plain


def _passes(validator: Any, schema: Any, instance: Any) -> bool:
    """True when ``schema`` is plain (see ``_plain``) and ``instance`` passes each of its checks as
    jsonschema makes them, so descending into it would give no error; False says nothing."""
    if schema is True:
        return True
    plain = _plain(schema)
    if plain is None:
        return False
    types, enum, fmt = plain
    if types is not _ABSENT and not any(validator.is_type(instance, t) for t in types):
        return False
    if enum is not _ABSENT and all(not jsonschema._utils.equal(each, instance) for each in enum):
        return False
    checker = validator.format_checker
    return fmt is _ABSENT or checker is None or bool(checker.conforms(instance, fmt))


def _properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterable[Any]:
    """jsonschema's ``properties``, not descending into a plain schema that the value passes."""
    if not validator.is_type(instance, "object"):
        return
    for prop, subschema in properties.items():
        if prop in instance:
            value = instance[prop]
            if not _passes(validator, subschema, value):
                yield from validator.descend(value, subschema, path=prop, schema_path=prop)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterable[Any]:
    """jsonschema's ``additionalProperties``, not descending into a plain schema that the value passes."""
    if not (validator.is_type(instance, "object") and validator.is_type(additional, "object")
            and _plain(additional) is not None):
        yield from _ADDITIONAL_PROPERTIES(validator, additional, instance, schema)
        return
    for extra in set(find_additional_properties(instance, schema)):
        if not _passes(validator, additional, instance[extra]):
            yield from validator.descend(instance[extra], additional, path=extra)


def _items(validator: Any, items: Any, instance: Any, schema: Any) -> Iterable[Any]:
    """jsonschema's ``items``, not descending into a plain schema that the item passes."""
    if not (validator.is_type(instance, "array") and isinstance(items, dict) and _plain(items) is not None):
        yield from _ITEMS(validator, items, instance, schema)
        return
    for index in range(len(schema.get("prefixItems", [])), len(instance)):
        if not _passes(validator, items, instance[index]):
            yield from validator.descend(instance=instance[index], schema=items, path=index)


_VALIDATORS = Draft202012Validator.VALIDATORS
_REF = _VALIDATORS["$ref"]
_ADDITIONAL_PROPERTIES = _VALIDATORS["additionalProperties"]
_ITEMS = _VALIDATORS["items"]
#: Draft 2020-12 with ``_remembered_ref`` for ``$ref``, and ``properties``, ``additionalProperties``
#: and ``items`` that skip leaves a value passes; otherwise jsonschema's own checks.
_Validator: Any = jsonschema.validators.extend(Draft202012Validator, {
    "$ref": _remembered_ref, "properties": _properties, "additionalProperties": _additional_properties,
    "items": _items,
})


def _errors(
    validator: Draft202012Validator, obj: Any, plain: bool | None = None
) -> list[tuple[tuple[PathPart, ...], str]]:
    """Path and message of every error of ``obj``; ``plain``: ``_plain_json(obj)`` when already known."""
    token = _PLAIN_JSON.set(_plain_json(obj) if plain is None else plain)
    outer = _DIGESTS.get()
    digests = _DIGESTS.set({} if outer is None else outer)  # the caller's, when it validates this object again
    try:
        return [found for err in validator.iter_errors(obj) for found in _describe(err)]
    finally:
        _DIGESTS.reset(digests)
        _PLAIN_JSON.reset(token)


def gvk(doc: Document) -> str:
    """``apps/v1/Deployment``, ``v1/Service``: the form ``--allow-kind`` takes."""
    return f"{doc.api_version}/{doc.kind}"


class SchemaCatalog:
    """Compiled validators shared by every run in this process (see ``catalog()``)."""

    def __init__(self) -> None:
        self._minors: dict[str, _MinorSchemas] = {}
        self._fingerprints: dict[tuple[str, str, str], str | None] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        # (id of the CRD's raw schema, minor) -> (that schema, kept alive so the id stays its own; validator)
        self._crd_validators: dict[tuple[int, str], tuple[Any, Draft202012Validator]] = {}
        self._crd_problems: dict[int, tuple[Any, str | None]] = {}
        self.checker = fastschema.Checker(FORMATS, _definition_key)
        self._fast: dict[str, fastschema.Check | None] = {}

    def minor(self, version: str) -> _MinorSchemas:
        if version not in self._minors:
            self._minors[version] = _MinorSchemas(version)
        return self._minors[version]

    def core_validator(self, version: str, api_version: str, kind: str) -> tuple[str, Draft202012Validator] | None:
        """(fingerprint, validator) of a core kind in ``version``; None when it is not served there."""
        key = (version, api_version, kind)
        if key not in self._fingerprints:
            minor = self.minor(version)
            schema = minor.kind_schema(api_version, kind)
            fp = None
            if schema is not None:
                fp = minor.fingerprint(schema)
                if fp not in self._validators:
                    self._validators[fp] = _Validator(schema, registry=minor.registry, format_checker=FORMATS)
            self._fingerprints[key] = fp
        fp = self._fingerprints[key]
        return None if fp is None else (fp, self._validators[fp])

    def fast_check(self, fp: str) -> fastschema.Check | None:
        """The compiled yes/no check of the core-kind schema ``fp`` (see ``fastschema``); None when
        its schema uses a keyword the checks do not cover."""
        if fp not in self._fast:
            validator: Any = self._validators[fp]
            try:
                self._fast[fp] = self.checker.compile_schema(validator.schema, validator._resolver)
            except fastschema.Unsupported:
                self._fast[fp] = None
        return self._fast[fp]

    def crd_problem(self, kind: crds.CrdKind) -> str | None:
        """Why the schema of a CRD found in a unit is invalid, or None (vendored ones are trusted)."""
        if crds.vendored().get(kind.key) is kind:
            return None
        cached = self._crd_problems.get(id(kind.schema))
        if cached is None or cached[0] is not kind.schema:
            cached = self._crd_problems[id(kind.schema)] = (kind.schema, crds.schema_problem(kind))
        return cached[1]

    def crd_validator(self, kind: crds.CrdKind, version: str) -> Draft202012Validator:
        """Validator of a custom resource; its metadata is checked as ObjectMeta of ``version``."""
        key = (id(kind.schema), version)
        cached = self._crd_validators.get(key)
        if cached is None or cached[0] is not kind.schema:
            validator = _Validator(crds.json_schema(kind), registry=self.minor(version).registry)
            cached = self._crd_validators[key] = (kind.schema, validator)
        return cached[1]


@cache
def catalog() -> SchemaCatalog:
    """The process-wide catalog: validators compiled once are reused by every later run."""
    return SchemaCatalog()


def unit_crds(documents: Sequence[Document]) -> dict[tuple[str, str, str], crds.CrdKind]:
    """Custom resource kinds known to a unit: the vendored CRDs, overridden by CRDs in the unit."""
    known = dict(crds.vendored())
    for doc in documents:
        if doc.is_object and (doc.group, doc.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            for kind in crds.kinds_of_crd(doc.obj, doc.file):
                known[kind.key] = kind
    return known


def check_schemas(
    documents: Sequence[Document],
    versions: Sequence[str],
    *,
    allowed_kinds: Collection[str] = (),
    custom_kinds: Mapping[tuple[str, str, str], crds.CrdKind] | None = None,
) -> list[Finding]:
    """Every schema error of every document, for each of ``versions`` (minors, e.g. ``"1.30"``).

    An object whose kind is neither built-in (in any of ``versions``) nor a custom resource of
    ``custom_kinds`` (default: ``unit_crds(documents)``) is a finding unless ``gvk(doc)`` is in
    ``allowed_kinds`` (default none); allowed kinds are not validated. A core-kind message ends
    with the minors it applies to, e.g. ``(Kubernetes 1.27-1.37)``.
    """
    cat = catalog()
    custom = unit_crds(documents) if custom_kinds is None else custom_kinds
    findings: list[Finding] = []
    for doc in documents:
        findings += [doc.finding(path, message, SCHEMA) for path, message in doc.issues]
        if doc.envelope:
            findings += _check_envelope(doc)
            continue
        if not doc.is_object:
            findings.append(
                Finding(doc.file, "", "", "", ".", f"document {doc.index + 1} is not a Kubernetes object", SCHEMA)
            )
            continue
        missing = [f for f in ("apiVersion", "kind") if not doc.obj.get(f) or not isinstance(doc.obj.get(f), str)]
        if missing:
            findings += [doc.finding((f,), "required field is missing", SCHEMA) for f in missing]
            continue
        if gvk(doc) in allowed_kinds:
            continue
        if (doc.group, doc.kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            for kind in crds.kinds_of_crd(doc.obj, doc.file):
                if problem := cat.crd_problem(kind):
                    path = ("spec", "versions", kind.index, "schema", "openAPIV3Schema")
                    findings.append(doc.finding(path, f"invalid schema: {problem}", SCHEMA))
        crd = custom.get((doc.group, doc.version, doc.kind))
        if crd is not None:
            findings += _check_custom(cat, crd, doc, versions[-1])
            continue
        findings += _check_core(cat, doc, versions)
    return findings


def _check_custom(cat: SchemaCatalog, crd: crds.CrdKind, doc: Document, version: str) -> list[Finding]:
    """A custom resource against its CRD's schema; a finding, never a traceback, when that schema is broken."""
    problem = cat.crd_problem(crd)
    if problem is None:
        try:
            return [doc.finding(p, m, SCHEMA) for p, m in _errors(cat.crd_validator(crd, version), doc.obj)]
        except (SchemaError, UnknownType, Unresolvable, re.error) as exc:
            problem = clip(str(exc).splitlines()[0], 100)
    return [
        doc.finding(
            ("kind",),
            f"cannot be checked: the schema of {clip(gvk(doc))} in {crd.source} is invalid ({problem}): fix the CRD",
            SCHEMA,
        )
    ]


def _check_core(cat: SchemaCatalog, doc: Document, versions: Sequence[str]) -> list[Finding]:
    by_error: dict[tuple[tuple[PathPart, ...], str], set[str]] = defaultdict(set)
    results: dict[str, list[tuple[tuple[PathPart, ...], str]]] = {}
    unserved: list[str] = []
    plain: bool | None = None
    digests = _DIGESTS.set({})  # shared by the minors' validations of this object
    cat.checker.begin()  # so are the compiled checks' verdicts on its values
    try:
        for version in versions:
            compiled = cat.core_validator(version, doc.api_version, doc.kind)
            if compiled is None:
                unserved.append(version)
                continue
            fp, validator = compiled
            if fp not in results:
                fast = cat.fast_check(fp)
                if fast is not None and fast(doc.obj):
                    results[fp] = []  # valid: jsonschema would find nothing
                else:
                    plain = _plain_json(doc.obj) if plain is None else plain
                    results[fp] = _errors(validator, doc.obj, plain)
            for error in results[fp]:
                by_error[error].add(version)
    finally:
        _DIGESTS.reset(digests)
    if len(unserved) == len(versions):
        return [
            doc.finding(
                ("kind",),
                f"unknown kind {clip(gvk(doc))}: not built into Kubernetes {version_ranges(versions)} "
                f"nor a known custom resource; declare it with --allow-kind {clip(gvk(doc))}",
                SCHEMA,
            )
        ]
    findings = [doc.finding(p, f"{m} (Kubernetes {version_ranges(vs)})", SCHEMA) for (p, m), vs in by_error.items()]
    if unserved:
        findings.append(
            doc.finding(("apiVersion",), f"{clip(gvk(doc))} is not served by Kubernetes {version_ranges(unserved)}",
                        SCHEMA)
        )
    return findings


_LIST_FIELDS = ("apiVersion", "kind", "metadata", "items")


def _check_envelope(doc: Document) -> list[Finding]:
    """The shape of a List (its items are checked as objects of their own)."""
    findings = []
    if doc.kind == "List" and doc.api_version != "v1":
        found = short(doc.obj.get("apiVersion"))
        findings.append(doc.finding(("apiVersion",), f"a List has apiVersion v1, not {found}", SCHEMA))
    for key in doc.obj:
        if key not in _LIST_FIELDS:
            findings.append(doc.finding((key,), "unknown field (a List has apiVersion, kind, metadata, items)", SCHEMA))
    if not isinstance(doc.obj.get("metadata", {}), dict):
        findings.append(doc.finding(("metadata",), f"expected object, got {_json_type(doc.obj['metadata'])}", SCHEMA))
    items = doc.obj.get("items")
    if not isinstance(items, list):
        findings.append(doc.finding(("items",), f"expected a list of objects, got {_json_type(items)}", SCHEMA))
        return findings
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            findings.append(
                doc.finding(("items", i), f"expected a Kubernetes object, got {_json_type(item)} {short(item)}", SCHEMA)
            )
    return findings
