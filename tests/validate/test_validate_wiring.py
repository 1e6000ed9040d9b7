"""Wiring checks: each fixture breaks one rule; the message is asserted exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from promstack.validate import Finding, validate_paths
from promstack.validate.k8s import object_name_error, qualified_name_error
from promstack.validate.report import format_line

FIX = Path(__file__).parent / "fixtures"
SEL = "app.kubernetes.io/instance=fixtures, app.kubernetes.io/name=web"
LABEL_KEY = "name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"


def run(name: str) -> list[Finding]:
    return validate_paths([FIX / name], run_promtool=False)


def wiring(name: str, kind: str, ns: str, obj: str, path: str, message: str, file: str = "manifests.yaml") -> Finding:
    return Finding(str(FIX / name / file), kind, ns, obj, path, message, "wiring")


CASES = {
    "wiring-service-selector": [
        (
            "Service",
            "demo",
            "web",
            "spec.selector",
            "selector app.kubernetes.io/name=webb matches no Deployment, StatefulSet or DaemonSet pod template "
            "in namespace 'demo'",
        ),
    ],
    "wiring-target-port": [
        (
            "Service",
            "demo",
            "web",
            "spec.ports[0].targetPort",
            "targetPort 'metrics' (TCP) is not a port name of any container of Deployment/demo/web",
        ),
    ],
    "wiring-configmap-volume": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.volumes[0].configMap.name",
            "ConfigMap 'web-config' not found in namespace 'demo'",
        ),
    ],
    "wiring-configmap-key": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.volumes[0].configMap.items[0].key",
            "key 'config.yml' not found in ConfigMap 'web-config'",
        ),
    ],
    "wiring-secret-volume": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.volumes[0].secret.secretName",
            "Secret 'web-tls' not found in namespace 'demo' (no Secret or SealedSecret renders it)",
        ),
    ],
    "wiring-projected-volume": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.volumes[0].projected.sources[1].secret.name",
            "Secret 'web-ca' not found in namespace 'demo' (no Secret or SealedSecret renders it)",
        ),
    ],
    "wiring-service-account": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.serviceAccountName",
            "ServiceAccount 'web' not found in namespace 'demo'",
        ),
    ],
    "wiring-role-ref": [
        ("ClusterRoleBinding", "", "web-view", "roleRef.name", "ClusterRole 'web-view' not found and not built in"),
        (
            "RoleBinding",
            "demo",
            "web",
            "roleRef.name",
            "Role 'web-reader' not found in namespace 'demo' and not built in",
        ),
    ],
    "wiring-apiservice-missing": [
        ("APIService", "", "v1beta1.custom.metrics.k8s.io", "spec.service", "Service demo/web not found"),
    ],
    "wiring-apiservice-port": [
        (
            "APIService",
            "",
            "v1beta1.custom.metrics.k8s.io",
            "spec.service",
            "Service demo/web exposes no port 443 (it has [8443])",
        ),
    ],
    "wiring-hpa-target": [
        (
            "HorizontalPodAutoscaler",
            "demo",
            "web",
            "spec.scaleTargetRef",
            "scale target Deployment/web not found in namespace 'demo'",
        ),
    ],
    # KEDA's defaults for the target; the HPA in the team namespace shop (not in the unit) is not looked for.
    "wiring-scaled-object-target": [
        (
            "ScaledObject",
            "demo",
            "api",
            "spec.scaleTargetRef",
            "scale target Deployment/api not found in namespace 'demo'",
        ),
    ],
    "wiring-node-port-range": [
        ("Service", "demo", "web", "spec.ports[0].nodePort", "nodePort 8443 outside 30000-32767"),
    ],
    "wiring-cluster-scoped-namespace": [
        (
            "ClusterRole",
            "demo",
            "web-reader",
            "metadata.namespace",
            "ClusterRole is cluster-scoped: remove metadata.namespace",
        ),
    ],
    "wiring-missing-namespace": [
        ("ConfigMap", "", "web-config", "metadata.namespace", "ConfigMap is namespaced: set metadata.namespace"),
    ],
    "wiring-invalid-name": [
        (
            "ConfigMap",
            "demo",
            "Web_Config",
            "metadata.name",
            "invalid name 'Web_Config': must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
        ),
    ],
    "wiring-invalid-label": [
        (
            "ConfigMap",
            "demo",
            "web-config",
            "metadata.labels.-bad-key",
            "invalid key '-bad-key': name part must be alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric",
        ),
        (
            "ConfigMap",
            "demo",
            "web-config",
            'metadata.labels["app.kubernetes.io/name"]',
            "invalid label value 'web config': must be empty or alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric",
        ),
    ],
    "wiring-workload-selector": [
        ("Deployment", "demo", "web", "spec.selector.matchLabels", "selector does not match the pod template labels"),
    ],    # What a config value with a stray newline, tab or space renders.
    "wiring-control-characters": [
        (
            "ClusterRole",
            "",
            "promstack-reader ",
            "metadata.name",
            "invalid name 'promstack-reader ': has leading or trailing whitespace: remove it",
        ),
        (
            "ConfigMap",
            "monitoring\n",
            "prometheus",
            'binaryData["alerts.rules.yml"]',
            "key 'alerts.rules.yml' is also in data: keep one",
        ),
        (
            "ConfigMap",
            "monitoring\n",
            "prometheus",
            'data["prometheus.yml\\n"]',
            "invalid key 'prometheus.yml\\n': must be alphanumerics, '-', '_' or '.'",
        ),
        (
            "ConfigMap",
            "monitoring\n",
            "prometheus",
            "metadata.namespace",
            "invalid namespace 'monitoring\\n': must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
        (
            "Namespace",
            "",
            "monitoring\n",
            'metadata.annotations["promstack.io/note\\t"]',
            f"invalid key 'promstack.io/note\\t': {LABEL_KEY}",
        ),
        (
            "Namespace",
            "",
            "monitoring\n",
            'metadata.labels["app.kubernetes.io/name\\n"]',
            f"invalid key 'app.kubernetes.io/name\\n': {LABEL_KEY}",
        ),
        (
            "Namespace",
            "",
            "monitoring\n",
            'metadata.labels["app.kubernetes.io/part-of"]',
            "invalid label value 'promstack\\n': must be empty or alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric",
        ),
        ("Namespace", "", "monitoring\n", "metadata.name", "invalid name 'monitoring\\n': holds a newline: remove it"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_wiring_rule(name: str) -> None:
    assert run(name) == [wiring(name, *case) for case in CASES[name]]


def test_node_ports_are_unique_per_cluster() -> None:
    name = "wiring-node-port-duplicate"
    file = str(FIX / name / "manifests.yaml")
    assert run(name) == [
        wiring(
            name,
            "Service",
            "demo",
            "web-alt",
            "spec.ports[0].nodePort",
            f"nodePort 30443 already used by Service/demo/web ({file})",
        ),
    ]


def test_identities_are_unique() -> None:
    name = "wiring-duplicate"
    assert run(name) == [
        wiring(
            name,
            "ConfigMap",
            "demo",
            "web-config",
            "metadata.name",
            f"duplicate object: also defined in {FIX / name / 'a.yaml'} (document 1)",
            file="b.yaml",
        ),
    ]


def test_each_cluster_folder_is_its_own_unit() -> None:
    """alpha's Service cannot select beta's Deployment; the same nodePort in both is fine."""
    name = "wiring-units"
    assert run(name) == [
        wiring(
            name,
            "Service",
            "demo",
            "web",
            "spec.selector",
            f"selector {SEL} matches no Deployment, StatefulSet or DaemonSet pod template in namespace 'demo'",
            file="clusters/alpha/manifests.yaml",
        ),
    ]
    assert validate_paths([FIX / name / "clusters" / "beta"], run_promtool=False) == []


def test_sealed_secret_projected_and_builtin_references_resolve() -> None:
    """The good set mounts a SealedSecret, a projected volume, and binds built-in roles."""
    assert run("good") == []


@pytest.mark.parametrize(
    ("group", "kind", "name", "ok"),
    [
        ("", "Service", "9web", False),  # DNS-1035: starts with a letter
        ("", "Service", "web", True),
        ("", "Namespace", "a.b", False),  # DNS-1123 label
        ("", "ConfigMap", "a.b", True),
        ("rbac.authorization.k8s.io", "ClusterRole", "system:auth-delegator", True),  # path segment
        ("rbac.authorization.k8s.io", "ClusterRole", "a/b", False),
        ("apps", "Deployment", "x" * 254, False),
        # "$" matched before a trailing newline: these passed.
        ("", "Namespace", "monitoring\n", False),
        ("", "Service", "web\n", False),
        ("", "ConfigMap", "web\n", False),
        ("rbac.authorization.k8s.io", "ClusterRole", "reader\n", False),
        ("rbac.authorization.k8s.io", "ClusterRole", " reader", False),
        ("rbac.authorization.k8s.io", "ClusterRole", "a\tb", False),
    ],
)
def test_name_rules_per_kind(group: str, kind: str, name: str, ok: bool) -> None:
    assert (object_name_error(group, kind, name) is None) is ok


def test_label_keys() -> None:
    assert qualified_name_error("app.kubernetes.io/name\n") is not None
    assert qualified_name_error("app.kubernetes.io\n/name") is not None
    assert qualified_name_error("app.kubernetes.io/name") is None
    assert qualified_name_error("Example.com/x") is not None
    assert qualified_name_error("/x") == "prefix part must be non-empty"
    assert qualified_name_error("x" * 64) == "name part must be at most 63 characters"


@pytest.mark.parametrize("where", ["name", "namespace", "label-key", "label-value", "data-key", "field", "image",
                                   "container-name"])
def test_huge_names_keys_and_values_are_quoted_short(tmp_path: Path, where: str) -> None:
    # Found by test_fuzz: findings repeated a 300-character name, key or image in full (twice).
    huge = "x" * 300
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "monitoring"},
                           "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}
    meta, container = pod["metadata"], pod["spec"]["containers"][0]
    if where in ("name", "namespace"):
        meta[where] = huge
    elif where == "label-key":
        meta["labels"] = {huge: "a"}
    elif where == "label-value":
        meta["labels"] = {"a": huge}
    elif where == "data-key":
        pod = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {huge: "v"}}
    elif where == "field":
        pod["spec"][huge] = 1
    elif where == "image":
        container["image"] = huge
    else:
        container["name"] = huge
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(pod))
    findings = validate_paths([tmp_path], run_promtool=False, versions=["1.37"])
    assert findings
    for finding in findings:
        line = format_line(finding)
        assert "x" * 100 not in line, line


def test_a_secret_declared_as_created_in_the_cluster_is_no_dangling_reference(tmp_path: Path) -> None:
    """The demo's Grafana admin Secret is made by hand (no Sealed Secrets controller): declared on
    the pod template it passes; any other missing Secret is still reported."""
    text = (FIX / "wiring-secret-volume" / "manifests.yaml").read_text()
    declared = text.replace("        app.kubernetes.io/instance: fixtures\n    spec:",
                            "        app.kubernetes.io/instance: fixtures\n      annotations:\n"
                            "        secrets.promstack.io/created-in-cluster: other,web-tls\n    spec:")
    assert declared != text
    (tmp_path / "manifests.yaml").write_text(declared)
    assert validate_paths([tmp_path], run_promtool=False) == []
    (tmp_path / "manifests.yaml").write_text(declared.replace("other,web-tls", "web-tl"))
    assert [f.message for f in validate_paths([tmp_path], run_promtool=False)] == [
        "Secret 'web-tls' not found in namespace 'demo' (no Secret or SealedSecret renders it)"]
