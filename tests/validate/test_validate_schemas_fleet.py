"""Schema checks in a fleet: a value a schema found valid once is not checked again, and that never
changes a finding (schemas.py's remembered ``$ref``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from promstack.validate import Finding, schemas, validate_paths
from promstack.validate.loader import InputError

FIX = Path(__file__).parent / "fixtures"
SCHEMA_FIXTURES = sorted(p.name for p in FIX.iterdir() if p.is_dir() and not p.name.startswith("promtool-"))


def findings(*paths: Path) -> list[Finding] | str:
    try:
        return validate_paths(list(paths), run_promtool=False)
    except InputError as exc:  # a fixture of unreadable input
        return str(exc)


@pytest.fixture
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "_VALID", {})


@pytest.mark.parametrize("name", SCHEMA_FIXTURES)
def test_remembering_changes_no_finding(name: str, fresh_memory: None, monkeypatch: pytest.MonkeyPatch) -> None:
    warm_up = findings(FIX / "good")  # fills the memory with the good set's values
    remembered = [findings(FIX / name), findings(FIX / name)]  # the second run hits what the first kept
    monkeypatch.setattr(schemas, "_plain_json", lambda obj: False)
    assert remembered == [findings(FIX / name)] * 2
    assert warm_up == []


def deployment(image_pull_policy: object) -> dict[str, object]:
    container = {"name": "app", "image": "registry.example.com/app:1.0", "imagePullPolicy": image_pull_policy}
    labels = {"app.kubernetes.io/name": "app"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def test_a_remembered_pass_does_not_hide_an_error_in_another_cluster(tmp_path: Path, fresh_memory: None) -> None:
    """Cluster a's container was valid (its Deployment was not: only then does jsonschema see it,
    see fastschema); cluster b's differs in one field and is still reported, each time (errors are
    never remembered)."""
    for cluster, policy in (("a", "IfNotPresent"), ("b", 5)):
        (tmp_path / cluster).mkdir()
        obj = deployment(policy)
        if cluster == "a":
            obj["metadata"] = {**obj["metadata"], "bogus": 1}  # type: ignore[dict-item]
        (tmp_path / cluster / "app.yaml").write_text(yaml.safe_dump(obj))
    def schema_findings(path: Path) -> list[Finding]:
        found = findings(path)
        assert not isinstance(found, str), found
        return [f for f in found if f.check == "schema"]

    assert [f.path for f in schema_findings(tmp_path / "a")] == ["metadata.bogus"]
    assert schemas._VALID, "the valid container was remembered"
    first = schema_findings(tmp_path / "b")
    assert [f.path for f in first] == ["spec.template.spec.containers[0].imagePullPolicy"]
    assert schema_findings(tmp_path / "b") == first


def test_values_that_are_not_plain_json_are_never_remembered(fresh_memory: None) -> None:
    assert schemas._plain_json({"a": [1, 2.5, True, None, "x"]})
    assert not schemas._plain_json({1: "a"})  # would print as {"1": "a"}, another value
    assert not schemas._plain_json({"a": float("nan")})


@pytest.mark.parametrize("name", SCHEMA_FIXTURES)
def test_remembered_lookups_and_digests_change_no_finding(
    name: str, fresh_memory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each $ref's resolution and each value's digest are kept (per process, per object): the
    findings are those of a run that looks every $ref up and digests every value afresh."""
    warm = [findings(FIX / "good"), findings(FIX / name), findings(FIX / name)]
    assert schemas._LOOKUPS, "resolutions were remembered"
    monkeypatch.setattr(schemas, "_VALID", {})
    monkeypatch.setattr(schemas, "_LOOKUPS", _Forgetful())
    monkeypatch.setattr(schemas, "_digest_of", lambda value: hashlib.blake2b(
        schemas._canonical(value).encode(), digest_size=16).digest())
    assert [findings(FIX / "good"), findings(FIX / name), findings(FIX / name)] == warm


class _Forgetful(dict[tuple[int, str], tuple[Any, Any]]):
    """A memory of lookups that never finds one."""

    def get(self, key: object, default: Any = None) -> Any:
        return default


def test_one_objects_values_are_digested_once_across_minors(fresh_memory: None) -> None:
    """Two clusters' Deployments differ in one container field: the second is still reported,
    although its unchanged values' digests and $ref resolutions come from memory."""
    from promstack.validate.loader import Document

    good, bad = (Document(f"{c}.yaml", 0, deployment(p)) for c, p in (("a", "IfNotPresent"), ("b", 5)))
    versions = schemas.supported_versions()
    assert schemas.check_schemas([good], versions) == []
    [found] = schemas.check_schemas([bad], versions)
    assert (found.file, found.path) == ("b.yaml", "spec.template.spec.containers[0].imagePullPolicy")
    assert schemas.check_schemas([bad], versions) == [found]


@pytest.mark.parametrize("name", SCHEMA_FIXTURES)
def test_skipping_leaves_a_value_passes_changes_no_finding(
    name: str, fresh_memory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leaf schema (type, enum, format) that a value passes is not descended into: the findings
    are those of a run that descends into every one."""
    fast = findings(FIX / name)
    monkeypatch.setattr(schemas, "_VALID", {})
    monkeypatch.setattr(schemas, "_passes", lambda validator, schema, instance: False)
    assert findings(FIX / name) == fast


def test_a_leaf_a_value_fails_is_still_reported_in_every_form(fresh_memory: None) -> None:
    """Wrong types and bad quantities, as a property, a map value and a list item (as before leaves were skipped)."""
    from promstack.validate.loader import Document

    obj = deployment("IfNotPresent")
    obj["metadata"]["labels"] = {"a": 1}  # type: ignore[index]
    container = obj["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    container["args"] = ["ok", 2]
    container["resources"] = {"limits": {"cpu": "lots"}}
    checked = schemas.check_schemas([Document("a.yaml", 0, obj)], schemas.supported_versions())
    found = [(f.path, f.message) for f in checked]
    assert found == [
        ("metadata.labels.a", "expected string, got integer 1 (Kubernetes 1.27-1.37)"),
        ("spec.template.spec.containers[0].args[1]", "expected string, got integer 2 (Kubernetes 1.27-1.37)"),
        ("spec.template.spec.containers[0].resources.limits.cpu",
         'invalid quantity "lots": write a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or exponent '
         "(e3) (Kubernetes 1.27-1.37)"),
    ]
