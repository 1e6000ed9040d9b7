"""Strict schema validation: core kinds per Kubernetes minor, custom resources per CRD."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from promstack.validate import Finding, crds, validate_paths
from promstack.validate.schemas import catalog, normalize_version, supported_versions, version_ranges

FIX = Path(__file__).parent / "fixtures"
ALL = "Kubernetes 1.27-1.37"


def run(name: str, *, versions: Iterable[str] | None = None, allowed_kinds: Collection[str] = ()) -> list[Finding]:
    return validate_paths([FIX / name], versions=versions, run_promtool=False, allowed_kinds=allowed_kinds)


def schema(name: str, kind: str, ns: str, obj: str, path: str, message: str, file: str = "manifests.yaml") -> Finding:
    return Finding(str(FIX / name / file), kind, ns, obj, path, message, "schema")


def test_supported_range_is_1_27_to_the_newest_kubernetes_validate_ships() -> None:
    assert supported_versions() == tuple(f"1.{m}" for m in range(27, 38))


def test_versions_are_normalized_and_checked() -> None:
    assert normalize_version("v1.30.2") == "1.30"
    assert normalize_version("1.27") == "1.27"
    with pytest.raises(ValueError, match=r"supported are 1\.27 to 1\.37"):
        normalize_version("1.26")
    assert version_ranges({"1.27", "1.28", "1.30", "1.31", "1.37"}) == "1.27-1.28, 1.30-1.31, 1.37"


def test_good_set_is_clean() -> None:
    assert run("good") == []


def test_good_core_objects_also_pass_kubernetes_validate_strict() -> None:
    """Cross-check with the reference implementation on the oldest and newest minor."""
    for file in sorted((FIX / "good").glob("*.yaml")):
        for obj in yaml.safe_load_all(file.read_text()):
            if "." in obj["apiVersion"].split("/")[0] and not obj["apiVersion"].split("/")[0].endswith("k8s.io"):
                continue  # custom resources: no schema in kubernetes-validate
            for version in ("1.27", "1.37"):
                kubernetes_validate.validate(obj, version, strict=True)


def test_unknown_field_is_reported_for_every_minor() -> None:
    assert run("schema-unknown-field") == [
        schema(
            "schema-unknown-field",
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.containers[0].imagePullSecret",
            f"unknown field ({ALL})",
        ),
    ]
    obj = yaml.safe_load((FIX / "schema-unknown-field" / "manifests.yaml").read_text())
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, "1.30", strict=True)


def test_every_error_is_reported_not_only_the_first() -> None:
    name = "schema-every-error"
    assert run(name) == [
        schema(name, "Deployment", "demo", "web", "spec.paused", f'expected boolean, got string "no" ({ALL})'),
        schema(name, "Deployment", "demo", "web", "spec.replicas", f'expected integer, got string "1" ({ALL})'),
        schema(name, "Deployment", "demo", "web", "spec.selector", f"required field is missing ({ALL})"),
        schema(
            name,
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.containers[0].ports[0].containerPort",
            f'expected integer, got string "8443" ({ALL})',
        ),
        schema(
            name,
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.containers[0].ports[0].protocl",
            f"unknown field ({ALL})",
        ),
    ]


def test_k8s_version_restricts_the_minors() -> None:
    found = run("schema-unknown-field", versions=["1.30", "v1.32.1"])
    assert [f.message for f in found] == ["unknown field (Kubernetes 1.30, 1.32)"]


def test_kind_not_served_by_older_minors() -> None:
    assert run("schema-not-served") == [
        schema(
            "schema-not-served",
            "FlowSchema",
            "",
            "fixtures",
            "apiVersion",
            "flowcontrol.apiserver.k8s.io/v1/FlowSchema is not served by Kubernetes 1.27-1.28",
        ),
    ]
    assert run("schema-not-served", versions=["1.29", "1.37"]) == []


def test_unknown_kind_is_an_error_unless_allowed() -> None:
    gvk = "monitoring.coreos.com/v1/ServiceMonitor"
    assert run("schema-unknown-kind") == [
        schema(
            "schema-unknown-kind",
            "ServiceMonitor",
            "demo",
            "web",
            "kind",
            f"unknown kind {gvk}: not built into {ALL} nor a known custom resource; declare it with --allow-kind {gvk}",
        ),
    ]
    assert run("schema-unknown-kind", allowed_kinds={gvk}) == []


def test_custom_resources_use_their_crd_schema() -> None:
    name = "schema-crd"
    assert run(name) == [
        schema(
            name,
            "Certificate",
            "demo",
            "web-serving",
            "spec.privateKey.algorithm",
            '"RSAX" is not one of ["RSA", "ECDSA", "Ed25519"]',
        ),
        schema(name, "GitRepository", "flux-system", "promstack", "spec.recurseSubmodule", "unknown field"),
    ]


def test_vendored_crds_cover_the_gitops_kinds_and_their_sources() -> None:
    keys = set(crds.vendored())
    assert keys == {
        ("bitnami.com", "v1alpha1", "SealedSecret"),
        ("cert-manager.io", "v1", "Certificate"),
        ("cert-manager.io", "v1", "Issuer"),
        ("argoproj.io", "v1alpha1", "Application"),
        ("argoproj.io", "v1alpha1", "ApplicationSet"),
        ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        ("keda.sh", "v1alpha1", "ScaledObject"),
        ("keda.sh", "v1alpha1", "TriggerAuthentication"),
        ("gateway.networking.k8s.io", "v1", "Gateway"),
        ("gateway.networking.k8s.io", "v1beta1", "Gateway"),
        ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        ("gateway.networking.k8s.io", "v1beta1", "HTTPRoute"),
        ("source.toolkit.fluxcd.io", "v1", "GitRepository"),
    }
    sources = (crds.VENDOR_DIR / "SOURCES.md").read_text()
    for kind in crds.vendored().values():
        assert f"`{kind.source}`" in sources


def test_crd_conversion_is_strict_and_keeps_openapi_semantics() -> None:
    raw = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True},
                    "note": {"type": "string", "nullable": True},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "count": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                },
            }
        },
    }
    kind = crds.CrdKind("example.com", "v1", "Thing", "Namespaced", raw, "test")
    schema = crds.json_schema(kind)
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["note"]["type"] == ["string", "null"]
    assert "additionalProperties" not in spec["properties"]["extra"]
    assert spec["properties"]["count"] == {"type": "integer", "exclusiveMinimum": 0}
    assert schema["properties"]["metadata"] == {"$ref": crds.OBJECT_META_REF}


def test_a_crd_in_the_unit_makes_its_kind_known(tmp_path: Path) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Thing", "plural": "things", "singular": "thing", "listKind": "ThingList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }
    thing = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "a", "namespace": "demo"},
        "spec": {"size": "big"},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all([crd, thing]))
    assert validate_paths([tmp_path], run_promtool=False) == [
        Finding(
            str(tmp_path / "m.yaml"), "Thing", "demo", "a", "spec.size", 'expected integer, got string "big"', "schema"
        ),
    ]


def test_validators_are_compiled_once_and_shared_between_identical_minors() -> None:
    cat = catalog()
    first = cat.core_validator("1.30", "v1", "ConfigMap")
    assert first is not None
    assert cat.core_validator("1.30", "v1", "ConfigMap") == first
    # ConfigMap's schema changed once in the range: two validators serve all eleven minors.
    compiled = [cat.core_validator(v, "v1", "ConfigMap") for v in supported_versions()]
    by_fingerprint = {c[0]: c[1] for c in compiled if c is not None}
    assert len(by_fingerprint) == 2
    assert all(c is not None and c[1] is by_fingerprint[c[0]] for c in compiled)
    assert cat.core_validator("1.30", "example.com/v1", "ConfigMap") is None


def test_quantities_the_api_server_cannot_parse() -> None:
    # The strict schemas accept any string as a quantity: "10Gi\n" and "64MB" passed.
    form = "write a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or exponent (e3)"
    name = "schema-quantity"
    assert run(name) == [
        schema(name, "LimitRange", "demo", "defaults", "spec.limits[0].default.cpu",
               f'invalid quantity "100 m": {form} ({ALL})'),
        schema(name, "LimitRange", "demo", "defaults", "spec.limits[0].default.memory",
               f'invalid quantity "64MB": {form} ({ALL})'),
        schema(name, "LimitRange", "demo", "defaults", "spec.limits[0].defaultRequest.cpu",
               f"invalid quantity NaN: not a finite number ({ALL})"),
        schema(name, "PersistentVolumeClaim", "demo", "data", "spec.resources.requests.storage",
               f'invalid quantity "10Gi\\n": whitespace or a control character in it: remove it ({ALL})'),
    ]


def test_malformed_crd_schemas_are_findings_not_tracebacks() -> None:
    # Before: AttributeError, KeyError, re.error, UnknownType or PointerToNowhere out of the gate.
    name = "schema-crd-malformed"
    file = str(FIX / name / "manifests.yaml")
    crd = "CustomResourceDefinition"
    at = "spec.versions[0].schema.openAPIV3Schema"

    def cr(kind: str, problem: str) -> Finding:
        return schema(name, kind, "demo", "x", "kind", f"cannot be checked: the schema of example.com/v1/{kind} in "
                                                       f"{file} is invalid ({problem}): fix the CRD")

    pattern = "properties.spec.properties.a.pattern: '[' is not a 'regex'"
    ref = "properties.spec: $ref is not allowed in a CRD schema: write the schema out"
    strin = "type: 'strin' is not valid under any of the given schemas"
    assert run(name) == [
        schema(name, crd, "", "patterns.example.com", at, f"invalid schema: {pattern}"),
        schema(name, crd, "", "properties.example.com", at, "invalid schema: properties: 5 is not of type 'object'"),
        schema(name, crd, "", "properties.example.com", f"{at}.properties", f"expected object, got integer 5 ({ALL})"),
        schema(name, crd, "", "refs.example.com", at, f"invalid schema: {ref}"),
        schema(name, crd, "", "scalars.example.com", at, f'expected object, got string "just-a-string" ({ALL})'),
        schema(name, crd, "", "scalars.example.com", at, "invalid schema: openAPIV3Schema is not an object"),
        schema(name, crd, "", "specs.example.com", "spec", f"expected object, got integer 5 ({ALL})"),
        schema(name, crd, "", "types.example.com", at, f"invalid schema: {strin}"),
        schema(name, crd, "", "versions.example.com", "spec.versions[0].name", f"required field is missing ({ALL})"),
        schema(name, crd, "", "versions.example.com", "spec.versions[0].storage", f"required field is missing ({ALL})"),
        schema(name, crd, "", "versions.example.com", "spec.versions[1]", f"expected object, got integer 5 ({ALL})"),
        cr("Pattern", pattern),
        cr("Propertie", "properties: 5 is not of type 'object'"),
        cr("Ref", ref),
        cr("Scalar", "openAPIV3Schema is not an object"),
        cr("Type", strin),
    ]


@pytest.mark.parametrize(("field", "value"), [("kind", "x" * 5000), ("apiVersion", "x" * 5000),
                                              ("kind", "Config\x00Map"), ("apiVersion", "v1/../../x")])
def test_a_huge_or_odd_kind_or_api_version_is_a_finding(tmp_path: Path, field: str, value: str) -> None:
    # Found by test_fuzz: a kind or apiVersion past the file-name limit (or holding a NUL) made the
    # schema lookup raise OSError/ValueError; the unknown-kind message quoted all of it.
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "monitoring"}}
    doc[field] = value
    (tmp_path / "huge.yaml").write_text(yaml.safe_dump(doc))
    findings = validate_paths([tmp_path], run_promtool=False)
    assert findings
    for finding in findings:
        assert "x" * 100 not in finding.message, finding.message[:300]
