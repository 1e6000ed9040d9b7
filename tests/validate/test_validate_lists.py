"""Lists are expanded as kubectl expands them: every item is checked as an object of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from promstack.validate import Finding, validate_paths
from promstack.validate.cli import main

FIX = Path(__file__).parent / "fixtures"
DUPLICATE = "duplicate key: strict validation refuses it and readers differ on which value wins; keep one"


def found(name: str, kind: str, ns: str, obj: str, path: str, message: str, check: str) -> Finding:
    return Finding(str(FIX / name / "manifests.yaml"), kind, ns, obj, path, message, check)


ITEMS = [
    found("list-items", "ConfigMap", "demo", "web-config", "items[3].items[0].data.extra",
          "expected string, got integer 1 (Kubernetes 1.27-1.37)", "schema"),
    found("list-items", "Pod", "demo", "web", 'items[2].metadata.labels["app.kubernetes.io/name"]', DUPLICATE,
          "schema"),
    found("list-items", "Pod", "demo", "web", "items[2].spec.containers[0].securityContext.privileged",
          "privileged container", "policy"),
    found("list-items", "Pod", "demo", "web", "items[2].spec.serviceAccountName",
          "ServiceAccount 'web' not found in namespace 'demo'", "wiring"),
    found("list-items", "Secret", "demo", "web-token", "items[1].stringData",
          "Secret carries data in the output: use a SealedSecret", "policy"),
]


@pytest.mark.parametrize("allowed", [(), ("v1/List",)], ids=["plain", "allow-kind-v1-List"])
def test_each_item_gets_schema_policy_and_wiring_findings(allowed: tuple[str, ...]) -> None:
    # Before, a List was one object of an unknown kind: with --allow-kind v1/List a plaintext
    # Secret and a privileged Pod inside it passed the gate.
    assert validate_paths([FIX / "list-items"], run_promtool=False, allowed_kinds=allowed) == ITEMS


def test_the_list_itself_is_checked_for_its_shape() -> None:
    name = "list-envelope"
    assert validate_paths([FIX / name], run_promtool=False) == [
        found(name, "List", "", "", "apiVersion", 'a List has apiVersion v1, not "v2"', "schema"),
        found(name, "List", "", "", "items", "expected a list of objects, got object", "schema"),
        found(name, "List", "", "", "items[0]", 'expected a Kubernetes object, got string "just a string"', "schema"),
        found(name, "List", "", "", "spec", "unknown field (a List has apiVersion, kind, metadata, items)", "schema"),
    ]


def test_items_count_as_objects_and_duplicates_name_the_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = "{apiVersion: v1, kind: Namespace, metadata: {name: demo, labels: {app.kubernetes.io/name: demo}}}"
    (tmp_path / "a.yaml").write_text(f"apiVersion: v1\nkind: List\nitems:\n- {ns}\n- {ns}\n")
    assert main([str(tmp_path), "--skip-promtool"]) == 1
    out, err = capsys.readouterr()
    assert out == (
        f"{tmp_path / 'a.yaml'}: Namespace//demo: items[1].metadata.name: "
        f"duplicate object: also defined in {tmp_path / 'a.yaml'} (document 1, items[0])\n"
    )
    assert "1 finding(s) in 2 object(s)" in err
