"""CustomResourceDefinition schemas: the vendored ones and the conversion to strict JSON Schema.

The schemas of the custom resources promstack emits (SealedSecret, cert-manager Certificate
and Issuer, Argo CD Application and ApplicationSet, Flux Kustomization and GitRepository) are
vendored in ``crd_schemas/`` (see its SOURCES.md): the served versions' ``openAPIV3Schema`` of
the upstream CRD files at pinned releases, descriptions dropped. The npm ``@kubernetes-models/*``
packages were considered and rejected: their releases ship ajv-compiled JavaScript validators
generated from the Go types (no JSON Schema, no unknown-field checks), not the CRD schemas.

Regenerate after bumping a CRD release::

    python -m promstack.validate.crds path/to/*.yaml
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from promstack.validate.findings import clip

VENDOR_DIR = Path(__file__).with_name("crd_schemas")
OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_DROP = frozenset({"description", "example", "externalDocs", "default"})


@dataclass(frozen=True)
class CrdKind:
    """One served version of a custom resource kind; ``schema`` is the raw openAPIV3Schema.

    ``index`` is the version's position in the CRD's ``spec.versions``; ``problem`` says why a
    CRD's schema cannot be used, when it is not an object at all.
    """

    group: str
    version: str
    kind: str
    scope: str  # "Namespaced" or "Cluster"
    schema: Mapping[str, Any]
    source: str
    index: int = 0
    problem: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.kind)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def kinds_of_crd(crd: Mapping[str, Any], source: str) -> list[CrdKind]:
    """The served versions of a CustomResourceDefinition object (apiextensions.k8s.io/v1).

    Malformed parts never raise: a version that is not a mapping or has no name is skipped (the
    CRD's own schema check reports it), a schema that is not a mapping becomes a ``problem``.
    """
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    versions = spec.get("versions")
    out = []
    for i, version in enumerate(versions if isinstance(versions, list) else []):
        if not isinstance(version, dict) or not isinstance(version.get("name"), str):
            continue
        raw = _dict(version.get("schema")).get("openAPIV3Schema")
        problem = None
        if raw is None:
            raw = {"type": "object"}
        elif not isinstance(raw, dict):
            problem, raw = "openAPIV3Schema is not an object", {"type": "object"}
        if version.get("served", True) is not False:
            out.append(
                CrdKind(
                    _str(spec.get("group")),
                    version["name"],
                    _str(names.get("kind")),
                    _str(spec.get("scope"), "Namespaced"),
                    raw,
                    source,
                    i,
                    problem,
                )
            )
    return out


def _convert(node: Any, *, root: bool = False) -> Any:
    """One OpenAPI v3 structural-schema node as a JSON Schema 2020-12 node.

    Strict like ``kubectl apply --validate=strict``: an object schema rejects fields it does not
    declare unless it has ``additionalProperties`` or ``x-kubernetes-preserve-unknown-fields``.
    ``nullable`` adds null; ``x-kubernetes-int-or-string`` accepts an integer or a string; an
    embedded resource accepts apiVersion/kind/metadata. CEL rules (``x-kubernetes-validations``)
    and ``format`` are not evaluated.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_convert(sub) for sub in value]
        else:
            out[key] = value  # anything malformed is kept for check_schema to name
    for bound in ("minimum", "maximum"):  # OpenAPI 3.0's boolean exclusive bounds
        flag = "exclusive" + bound.capitalize()
        exclusive = out.get(flag)
        if isinstance(exclusive, bool):
            del out[flag]
            if exclusive and bound in out:
                out[flag] = out.pop(bound)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *([{"type": "null"}] if node.get("nullable") else [])]
    elif node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    if node.get("x-kubernetes-embedded-resource") or root:
        props = out.setdefault("properties", {})
        if isinstance(props, dict):
            props.setdefault("apiVersion", {"type": "string"})
            props.setdefault("kind", {"type": "string"})
            props["metadata"] = {"$ref": OBJECT_META_REF} if root else props.get("metadata", {"type": "object"})
    if (
        out.get("type") in ("object", ["object", "null"])
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def json_schema(kind: CrdKind) -> dict[str, Any]:
    """The strict JSON Schema (2020-12) of ``kind``; its root metadata refers to core ObjectMeta."""
    schema: dict[str, Any] = _convert(kind.schema, root=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://promstack.invalid/crd/{kind.group}/{kind.version}/{kind.kind}"
    return schema


def schema_problem(kind: CrdKind) -> str | None:
    """Why ``kind``'s schema is no valid schema (the API server would refuse its CRD), or None."""
    if kind.problem is not None:
        return kind.problem
    todo: list[tuple[Any, str]] = [(kind.schema, "")]
    while todo:  # the API server refuses $ref: a structural schema is self-contained
        node, where = todo.pop()
        if not isinstance(node, dict):
            continue
        if "$ref" in node:
            return f"{where.lstrip('.') or '(root)'}: $ref is not allowed in a CRD schema: write the schema out"
        for key in ("items", "additionalProperties", "not"):
            todo.append((node.get(key), f"{where}.{key}"))
        for key in ("allOf", "anyOf", "oneOf"):
            todo.extend((sub, f"{where}.{key}[{i}]") for i, sub in enumerate(node.get(key) or []))
        if isinstance(node.get("properties"), dict):
            todo.extend((sub, f"{where}.properties.{name}") for name, sub in node["properties"].items())
    try:
        Draft202012Validator.check_schema(json_schema(kind))
    except SchemaError as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path).lstrip(".")
        return f"{clip(where, 60) or '(root)'}: {clip(exc.message, 100)}"
    return None


@cache
def vendored() -> dict[tuple[str, str, str], CrdKind]:
    """(group, version, kind) -> CrdKind for every vendored CRD (read once per process)."""
    out: dict[tuple[str, str, str], CrdKind] = {}
    for path in sorted(VENDOR_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for version, schema in data["versions"].items():
            kind = CrdKind(data["group"], version, data["kind"], data["scope"], schema, path.name)
            out[kind.key] = kind
    return out


_VERBATIM = frozenset({"enum", "default", "example", "required", "x-kubernetes-list-map-keys"})


def strip_descriptions(node: Any) -> Any:
    """A schema without ``description``/``example`` keywords; property names and values kept."""
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "example"):
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: strip_descriptions(sub) for name, sub in value.items()}
        elif key in _VERBATIM:
            out[key] = value
        else:
            out[key] = strip_descriptions(value)
    return out


def vendor(sources: Iterable[Path], out_dir: Path = VENDOR_DIR) -> list[Path]:
    """Write ``<group>_<plural>.json`` for each CRD file: served schemas, no descriptions."""
    written = []
    for source in sources:
        raw = source.read_bytes()
        crd = yaml.safe_load(raw)
        spec = crd["spec"]
        record = {
            "source": source.name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "group": spec["group"],
            "kind": spec["names"]["kind"],
            "scope": spec["scope"],
            "versions": {k.version: strip_descriptions(k.schema) for k in kinds_of_crd(crd, source.name)},
        }
        target = out_dir / f"{spec['group']}_{spec['names']['plural']}.json"
        target.write_text(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m promstack.validate.crds CRD.yaml ...", file=sys.stderr)
        return 2
    for path in vendor(Path(a) for a in args):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
