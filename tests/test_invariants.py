"""Invariants over every rendered object of every cluster; each failure names the object."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from conftest import Rendered, iter_pod_specs

LABEL_KEYS = {f"app.kubernetes.io/{k}" for k in ("name", "instance", "component", "part-of", "managed-by")}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "APIService"}
PINNED = re.compile(r"^[a-z0-9.\-/]+:(v?\d+\.\d+\.\d+)$")
# Declared in code (node_exporter.HARDENING_EXCEPTIONS): host access node-exporter needs.
HOST_FIELDS = ("hostNetwork", "hostPID", "hostIPC")


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template["spec"]
    found: list[dict[str, Any]] = spec["containers"] + spec.get("initContainers", [])
    return found


def test_every_object_has_the_standard_labels(rendered: list[Rendered]) -> None:
    problems = [f"{r}: missing {sorted(LABEL_KEYS - set(r.obj['metadata'].get('labels', {})))}"
                for r in rendered if not set(r.obj["metadata"].get("labels", {})) >= LABEL_KEYS]
    assert not problems, "\n".join(problems)


def test_names_are_chosen_and_unique(rendered: list[Rendered]) -> None:
    keys = Counter((r.cluster, r.obj["apiVersion"], r.kind, r.namespace, r.name) for r in rendered)
    assert not [k for k, n in keys.items() if n > 1], "duplicate objects"
    hashed = [str(r) for r in rendered if re.search(r"-[0-9a-f]{8}$|c8[0-9a-f]{8}", r.name)]
    assert not hashed, f"hashed names: {hashed}"


def test_namespace_only_on_namespaced_objects(rendered: list[Rendered]) -> None:
    problems = [str(r) for r in rendered if (r.kind in CLUSTER_SCOPED) == (r.namespace is not None)]
    assert not problems, f"namespace set on a cluster-scoped object or missing on a namespaced one: {problems}"


def test_selectors_use_name_and_instance_only(rendered: list[Rendered]) -> None:
    for r in rendered:
        selector = r.obj.get("spec", {}).get("selector")
        if selector is None:
            continue
        labels = selector.get("matchLabels", selector)
        assert set(labels) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}, f"{r}: selector {labels}"
    text = "\n".join(str(r.obj) for r in rendered)
    assert "cdk8s.io/metadata.addr" not in text


def test_every_container_is_hardened_pinned_and_sized(rendered: list[Rendered]) -> None:
    problems = []
    for r, template in iter_pod_specs(rendered):
        pod_sc = template["spec"].get("securityContext", {})
        for c in containers(template):
            where = f"{r}: container {c['name']}"
            sc = c.get("securityContext", {})
            if not PINNED.match(c["image"]):
                problems.append(f"{where}: image {c['image']} is not pinned to a version tag")
            if c.get("imagePullPolicy") != "IfNotPresent":
                problems.append(f"{where}: imagePullPolicy {c.get('imagePullPolicy')}")
            for kind in ("requests", "limits"):
                if set(c.get("resources", {}).get(kind, {})) != {"cpu", "memory"}:
                    problems.append(f"{where}: resources.{kind} must set cpu and memory")
            if c.get("resources", {}).get("requests") == {"cpu": "1000m", "memory": "512Mi"}:
                problems.append(f"{where}: cdk8s-plus default requests")
            if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
                problems.append(f"{where}: capabilities must drop ALL and add none")
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile {seccomp}")
            if "readinessProbe" not in c or "livenessProbe" not in c:
                problems.append(f"{where}: readiness and liveness probes")
    assert not problems, "\n".join(problems)


def test_host_access_only_where_declared_with_a_reason(rendered: list[Rendered]) -> None:
    problems = []
    for r, template in iter_pod_specs(rendered):
        declared = {k.removeprefix("hardening.promstack.io/"): v
                    for k, v in template["metadata"].get("annotations", {}).items()
                    if k.startswith("hardening.promstack.io/")}
        used = {f for f in HOST_FIELDS if template["spec"].get(f)}
        if any("hostPath" in v for v in template["spec"].get("volumes", [])):
            used.add("hostPath")
        for field in used:
            if not declared.get(field, "").strip():
                problems.append(f"{r}: uses {field} without a declared reason")
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for c in containers(template):
            for m in c.get("volumeMounts", []):
                volume = volumes.get(m["name"], {})  # absent: a StatefulSet volumeClaimTemplate
                if "hostPath" in volume and m.get("readOnly") is not True:
                    problems.append(f"{r}: hostPath {volume['hostPath']['path']} mounted writable")
    assert not problems, "\n".join(problems)


def test_no_plaintext_secrets(rendered: list[Rendered]) -> None:
    assert not [str(r) for r in rendered if r.kind == "Secret"], "only SealedSecrets may reach dist/"


@pytest.mark.parametrize("kind", ["ClusterRole", "Role"])
def test_rbac_verbs_are_explicit(rendered: list[Rendered], kind: str) -> None:
    for r in (r for r in rendered if r.kind == kind):
        for rule in r.obj.get("rules", []):
            assert "*" not in rule["verbs"], f"{r}: wildcard verb"
            if "*" in rule.get("resources", []):
                # Metric names under custom.metrics.k8s.io cannot be listed ahead of time.
                assert rule["apiGroups"] == ["custom.metrics.k8s.io"], f"{r}: wildcard resource"
                assert set(rule["verbs"]) <= {"get", "list", "watch"}, f"{r}: write access to metrics"
