"""Wiring checks within one unit (one cluster): references resolve, identities and ports are unique.

Everything a reference points at must be in the same unit, as the cluster would receive it:
Services select a workload and its ports; volumes, envFrom and env refer to ConfigMaps and
Secrets (a SealedSecret counts as the Secret it renders); pods to ServiceAccounts; bindings
to roles (or built-in ones); APIServices to a Service port; HPAs to their target (a pod template may
name Secrets created in the cluster by hand in ``secrets.promstack.io/created-in-cluster``). Names,
labels and scopes follow the API server's rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promstack.config.names import SECRETS_CREATED_IN_CLUSTER
from promstack.validate import k8s
from promstack.validate.crds import CrdKind
from promstack.validate.findings import WIRING, Finding, PathPart, clip
from promstack.validate.k8s import as_dict, as_list, as_str
from promstack.validate.loader import Document

RBAC = "rbac.authorization.k8s.io"
#: Roles every cluster has: ClusterRoles by name, Roles by (namespace, name).
BUILTIN_CLUSTER_ROLES = frozenset(
    {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:auth-delegator",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:monitoring",
    }
)
BUILTIN_ROLES = frozenset({("kube-system", "extension-apiserver-authentication-reader")})
NODE_PORT_RANGE = (30000, 32767)


@dataclass
class _Secretish:
    doc: Document
    keys: set[str]


@dataclass
class _Index:
    """Lookups over the objects of one unit."""

    objects: dict[tuple[str, str, str, str], Document] = field(default_factory=dict)
    configmaps: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], _Secretish] = field(default_factory=dict)
    workloads: list[k8s.PodTemplate] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)

    def has(self, group: str, kind: str, namespace: str, name: str) -> bool:
        return (group, kind, namespace, name) in self.objects


def _index(docs: Sequence[Document]) -> _Index:
    index = _Index()
    for doc in docs:
        index.objects.setdefault((doc.group, doc.kind, doc.namespace, doc.name), doc)
        key = (doc.namespace, doc.name)
        if (doc.group, doc.kind) == ("", "ConfigMap"):
            index.configmaps[key] = set(as_dict(doc.obj.get("data"))) | set(as_dict(doc.obj.get("binaryData")))
        elif (doc.group, doc.kind) == ("", "Secret"):
            keys = set(as_dict(doc.obj.get("data"))) | set(as_dict(doc.obj.get("stringData")))
            index.secrets.setdefault(key, _Secretish(doc, keys))
        elif (doc.group, doc.kind) == ("bitnami.com", "SealedSecret"):
            template = as_dict(doc.spec.get("template"))
            name = as_str(as_dict(template.get("metadata")).get("name")) or doc.name
            keys = set(as_dict(doc.spec.get("encryptedData"))) | set(as_dict(template.get("data")))
            index.secrets.setdefault((doc.namespace, name), _Secretish(doc, keys))
        elif (doc.group, doc.kind) == ("", "Namespace"):
            index.namespaces.add(doc.name)
        if doc.group == "apps" and doc.kind in k8s.WORKLOAD_KINDS and (pod := k8s.pod_template(doc)):
            index.workloads.append(pod)
    return index


def check_wiring(docs: Sequence[Document], custom_kinds: Mapping[tuple[str, str, str], CrdKind]) -> list[Finding]:
    """Every wiring finding of one unit; ``custom_kinds`` gives the scope of custom resources."""
    objects = [d for d in docs if d.is_object and d.kind]
    index = _index(objects)
    scopes = {(k.group, k.kind): k.scope for k in custom_kinds.values()}
    findings: list[Finding] = []
    findings += _unique(objects)
    findings += _node_ports(objects)
    for doc in objects:
        findings += _scope(doc, scopes)
        findings += _names_and_labels(doc)
        template = k8s.pod_template(doc)
        if template is not None:
            findings += _pod_refs(template, index)
        key = (doc.group, doc.kind)
        if key == ("", "Service"):
            findings += _service(doc, index)
        elif key in ((RBAC, "RoleBinding"), (RBAC, "ClusterRoleBinding")):
            findings += _binding(doc, index)
        elif key == ("apiregistration.k8s.io", "APIService"):
            findings += _api_service(doc, index)
        elif key in (("autoscaling", "HorizontalPodAutoscaler"), ("keda.sh", "ScaledObject")):
            findings += _hpa(doc, index)
    return findings


def _w(doc: Document, path: Sequence[PathPart], message: str) -> Finding:
    return doc.finding(path, message, WIRING)


def _unique(docs: Sequence[Document]) -> Iterator[Finding]:
    first: dict[tuple[str, str, str, str], Document] = {}
    for doc in docs:
        key = (doc.group, doc.kind, doc.namespace, doc.name)
        if key in first:
            other = first[key]
            yield _w(
                doc,
                ("metadata", "name"),
                f"duplicate object: also defined in {other.file} ({other.location})",
            )
        else:
            first[key] = doc


def _scope(doc: Document, custom_scopes: Mapping[tuple[str, str], str]) -> Iterator[Finding]:
    key = (doc.group, doc.kind)
    if key in k8s.CLUSTER_SCOPED:
        scope = "Cluster"
    elif key in custom_scopes:
        scope = custom_scopes[key]
    elif k8s.is_builtin_group(doc.group):
        scope = "Namespaced"
    else:
        return  # an allowed kind of unknown scope
    if scope == "Cluster" and "namespace" in doc.metadata:
        yield _w(doc, ("metadata", "namespace"), f"{clip(doc.kind)} is cluster-scoped: remove metadata.namespace")
    elif scope == "Namespaced" and not doc.namespace:
        yield _w(doc, ("metadata", "namespace"), f"{clip(doc.kind)} is namespaced: set metadata.namespace")


def _label_map(doc: Document, path: tuple[PathPart, ...], labels: Any, *, values: bool = True) -> Iterator[Finding]:
    for key, value in as_dict(labels).items():
        if err := k8s.qualified_name_error(str(key)):
            yield _w(doc, (*path, key), f"invalid key {clip(repr(key))}: {err}")
        if values and isinstance(value, str) and (err := k8s.label_value_error(value)):
            yield _w(doc, (*path, key), f"invalid label value {clip(repr(value))}: {err}")


def _names_and_labels(doc: Document) -> Iterator[Finding]:
    meta = doc.metadata
    if not doc.name:
        yield _w(doc, ("metadata", "name"), "required field is missing")
    elif err := k8s.object_name_error(doc.group, doc.kind, doc.name):
        yield _w(doc, ("metadata", "name"), f"invalid name {clip(repr(doc.name))}: {err}")
    if doc.namespace and (err := k8s.dns1123_label_error(doc.namespace)):
        yield _w(doc, ("metadata", "namespace"), f"invalid namespace {clip(repr(doc.namespace))}: {err}")
    yield from _data_keys(doc)
    yield from _label_map(doc, ("metadata", "labels"), meta.get("labels"))
    yield from _label_map(doc, ("metadata", "annotations"), meta.get("annotations"), values=False)
    if doc.group == "apps":
        selector = as_dict(as_dict(doc.spec.get("selector")).get("matchLabels"))
        yield from _label_map(doc, ("spec", "selector", "matchLabels"), selector)
    if (doc.group, doc.kind) == ("", "Service"):
        yield from _label_map(doc, ("spec", "selector"), doc.spec.get("selector"))
        for i, port in enumerate(as_list(doc.spec.get("ports"))):
            name = as_dict(port).get("name")
            if isinstance(name, str) and (err := k8s.dns1123_label_error(name)):
                yield _w(doc, ("spec", "ports", i, "name"), f"invalid port name {clip(repr(name))}: {err}")
    template = k8s.pod_template(doc)
    if template is None:
        return
    if template.path:
        yield from _label_map(doc, (*template.path, "metadata", "labels"), template.labels)
        yield from _label_map(doc, (*template.path, "metadata", "annotations"), template.annotations, values=False)
        selector = as_dict(as_dict(doc.spec.get("selector")).get("matchLabels"))
        if doc.group == "apps" and any(template.labels.get(k) != v for k, v in selector.items()):
            yield _w(doc, ("spec", "selector", "matchLabels"), "selector does not match the pod template labels")
    for path, container in template.containers():
        name = container.get("name")
        if isinstance(name, str) and (err := k8s.dns1123_label_error(name)):
            yield _w(doc, (*path, "name"), f"invalid container name {clip(repr(name))}: {err}")
        for j, port in enumerate(as_list(container.get("ports"))):
            pname = as_dict(port).get("name")
            if isinstance(pname, str) and (err := k8s.port_name_error(pname)):
                yield _w(doc, (*path, "ports", j, "name"), f"invalid port name {clip(repr(pname))}: {err}")
    for i, volume in enumerate(as_list(template.spec.get("volumes"))):
        vname = as_dict(volume).get("name")
        if isinstance(vname, str) and (err := k8s.dns1123_label_error(vname)):
            yield _w(doc, template.at("volumes", i, "name"), f"invalid volume name {clip(repr(vname))}: {err}")


def _data_keys(doc: Document) -> Iterator[Finding]:
    """Keys of ConfigMap and Secret data (and what a SealedSecret renders): file names in a volume."""
    key = (doc.group, doc.kind)
    if key == ("", "ConfigMap"):
        fields: list[tuple[str, ...]] = [("data",), ("binaryData",)]
    elif key == ("", "Secret"):
        fields = [("data",), ("stringData",)]
    elif key == ("bitnami.com", "SealedSecret"):
        fields = [("spec", "encryptedData"), ("spec", "template", "data")]
    else:
        return
    seen: dict[str, tuple[PathPart, ...]] = {}
    for path in fields:
        data: Any = doc.obj
        for part in path:
            data = as_dict(data).get(part)
        for name in as_dict(data):
            if err := k8s.config_key_error(name):
                yield _w(doc, (*path, name), f"invalid key {clip(repr(name))}: {err}")
            if key == ("", "ConfigMap") and name in seen:
                yield _w(doc, (*path, name), f"key {clip(repr(name))} is also in {seen[name][-1]}: keep one")
            seen.setdefault(name, path)


def _selected(doc: Document, index: _Index) -> list[k8s.PodTemplate]:
    selector = as_dict(doc.spec.get("selector"))
    return [
        t
        for t in index.workloads
        if t.doc.namespace == doc.namespace and all(t.labels.get(k) == v for k, v in selector.items())
    ]


def _service(doc: Document, index: _Index) -> Iterator[Finding]:
    selector = as_dict(doc.spec.get("selector"))
    if not selector or doc.spec.get("type") == "ExternalName":
        return  # endpoints managed by hand
    selected = _selected(doc, index)
    if not selected:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        yield _w(
            doc,
            ("spec", "selector"),
            f"selector {clip(labels)} matches no Deployment, StatefulSet or DaemonSet pod template "
            f"in namespace {clip(repr(doc.namespace))}",
        )
        return
    for i, port in enumerate(as_list(doc.spec.get("ports"))):
        port = as_dict(port)
        target = port.get("targetPort", port.get("port"))
        protocol = port.get("protocol", "TCP")
        for template in selected:
            if not _exposes(template, target, protocol):
                what = "port name" if isinstance(target, str) else "containerPort"
                yield _w(
                    doc,
                    ("spec", "ports", i, "targetPort"),
                    f"targetPort {clip(repr(target))} ({clip(str(protocol))}) is not a {what} of any container of "
                    f"{clip(template.doc.ref)}",
                )


def _exposes(template: k8s.PodTemplate, target: Any, protocol: str) -> bool:
    for container in template.serving_containers():
        for port in as_list(container.get("ports")):
            port = as_dict(port)
            if port.get("protocol", "TCP") != protocol:
                continue
            if (isinstance(target, str) and port.get("name") == target) or (
                isinstance(target, int) and port.get("containerPort") == target
            ):
                return True
    return False


def _pod_refs(template: k8s.PodTemplate, index: _Index) -> Iterator[Finding]:
    doc, ns = template.doc, template.doc.namespace
    sa = template.spec.get("serviceAccountName") or template.spec.get("serviceAccount")
    if isinstance(sa, str) and sa != "default" and not index.has("", "ServiceAccount", ns, sa):
        field_name = "serviceAccountName" if "serviceAccountName" in template.spec else "serviceAccount"
        yield _w(doc, template.at(field_name), f"ServiceAccount {clip(repr(sa))}"
            f" not found in namespace {clip(repr(ns))}")
    for i, volume in enumerate(as_list(template.spec.get("volumes"))):
        volume = as_dict(volume)
        if "configMap" in volume:
            yield from _config_ref(template, index, ("volumes", i, "configMap"), as_dict(volume["configMap"]), "name")
        if "secret" in volume:
            yield from _secret_ref(template, index, ("volumes", i, "secret"), as_dict(volume["secret"]), "secretName")
        for j, source in enumerate(as_list(as_dict(volume.get("projected")).get("sources"))):
            source = as_dict(source)
            base = ("volumes", i, "projected", "sources", j)
            if "configMap" in source:
                yield from _config_ref(template, index, (*base, "configMap"), as_dict(source["configMap"]), "name")
            if "secret" in source:
                yield from _secret_ref(template, index, (*base, "secret"), as_dict(source["secret"]), "name")
    for path, container in template.containers():
        rel = path[len(template.at()) :]
        for j, source in enumerate(as_list(container.get("envFrom"))):
            source = as_dict(source)
            if "configMapRef" in source:
                yield from _config_ref(
                    template, index, (*rel, "envFrom", j, "configMapRef"), as_dict(source["configMapRef"]), "name"
                )
            if "secretRef" in source:
                yield from _secret_ref(
                    template, index, (*rel, "envFrom", j, "secretRef"), as_dict(source["secretRef"]), "name"
                )
        for j, env in enumerate(as_list(container.get("env"))):
            value_from = as_dict(as_dict(env).get("valueFrom"))
            env_path = (*rel, "env", j, "valueFrom")
            if "configMapKeyRef" in value_from:
                yield from _config_ref(
                    template, index, (*env_path, "configMapKeyRef"), as_dict(value_from["configMapKeyRef"]), "name"
                )
            if "secretKeyRef" in value_from:
                yield from _secret_ref(
                    template, index, (*env_path, "secretKeyRef"), as_dict(value_from["secretKeyRef"]), "name"
                )


def _wanted_keys(ref: dict[str, Any]) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    if isinstance(ref.get("key"), str):
        yield ("key",), ref["key"]
    for k, item in enumerate(as_list(ref.get("items"))):
        if isinstance(as_dict(item).get("key"), str):
            yield ("items", k, "key"), item["key"]


def _config_ref(
    template: k8s.PodTemplate, index: _Index, path: tuple[PathPart, ...], ref: dict[str, Any], name_field: str
) -> Iterator[Finding]:
    doc, ns, name = template.doc, template.doc.namespace, ref.get(name_field)
    if ref.get("optional") is True or not isinstance(name, str):
        return
    keys = index.configmaps.get((ns, name))
    if keys is None:
        yield _w(doc, template.at(*path, name_field), f"ConfigMap {clip(repr(name))}"
            f" not found in namespace {clip(repr(ns))}")
        return
    for key_path, key in _wanted_keys(ref):
        if key not in keys:
            yield _w(doc, template.at(*path, *key_path), f"key {clip(repr(key))}"
                f" not found in ConfigMap {clip(repr(name))}")


def _secret_ref(
    template: k8s.PodTemplate, index: _Index, path: tuple[PathPart, ...], ref: dict[str, Any], name_field: str
) -> Iterator[Finding]:
    doc, ns, name = template.doc, template.doc.namespace, ref.get(name_field)
    if ref.get("optional") is True or not isinstance(name, str):
        return
    # Declared on the pod template: a Secret the user creates once by hand, which git never holds.
    if name in str(template.annotations.get(SECRETS_CREATED_IN_CLUSTER, "")).split(","):
        return
    secret = index.secrets.get((ns, name))
    if secret is None:
        yield _w(
            doc,
            template.at(*path, name_field),
            f"Secret {clip(repr(name))} not found in namespace {clip(repr(ns))} (no Secret or SealedSecret renders it)",
        )
        return
    for key_path, key in _wanted_keys(ref):
        if key not in secret.keys:
            yield _w(
                doc, template.at(*path, *key_path), f"key {clip(repr(key))}"
                    f" not found in Secret {clip(repr(name))} ({clip(secret.doc.kind)})"
            )


def _binding(doc: Document, index: _Index) -> Iterator[Finding]:
    ref = as_dict(doc.obj.get("roleRef"))
    kind, name = as_str(ref.get("kind")), as_str(ref.get("name"))
    if kind == "Role":
        if doc.kind == "ClusterRoleBinding":
            yield _w(doc, ("roleRef", "kind"), "a ClusterRoleBinding can only refer to a ClusterRole")
        elif not index.has(RBAC, "Role", doc.namespace, name) and (doc.namespace, name) not in BUILTIN_ROLES:
            yield _w(
                doc, ("roleRef", "name"), f"Role {clip(repr(name))}"
                    f" not found in namespace {clip(repr(doc.namespace))} and not built in"
            )
    elif kind == "ClusterRole" and not index.has(RBAC, "ClusterRole", "", name) and name not in BUILTIN_CLUSTER_ROLES:
        yield _w(doc, ("roleRef", "name"), f"ClusterRole {clip(repr(name))} not found and not built in")
    for i, subject in enumerate(as_list(doc.obj.get("subjects"))):
        subject = as_dict(subject)
        if subject.get("kind") != "ServiceAccount":
            continue
        ns = as_str(subject.get("namespace")) or doc.namespace
        sa = as_str(subject.get("name"))
        # Only namespaces this unit creates are known in full; others (kube-system) may hold it.
        if ns in index.namespaces and sa != "default" and not index.has("", "ServiceAccount", ns, sa):
            yield _w(doc, ("subjects", i, "name"), f"ServiceAccount {clip(repr(sa))}"
                f" not found in namespace {clip(repr(ns))}")


def _api_service(doc: Document, index: _Index) -> Iterator[Finding]:
    group, version = doc.spec.get("group"), doc.spec.get("version")
    if isinstance(group, str) and isinstance(version, str) and doc.name != f"{version}.{group}":
        yield _w(doc, ("metadata", "name"), f"name must be {clip(version)}.{clip(group)} (spec.version.spec.group)")
    service = doc.spec.get("service")
    if not isinstance(service, dict):
        return  # served locally by kube-apiserver
    ns, name, port = as_str(service.get("namespace")), as_str(service.get("name")), service.get("port", 443)
    target = index.objects.get(("", "Service", ns, name))
    if target is None:
        yield _w(doc, ("spec", "service"), f"Service {clip(ns)}/{clip(name)} not found")
        return
    ports = [as_dict(p).get("port") for p in as_list(target.spec.get("ports"))]
    if port not in ports:
        where = ("spec", "service", "port") if "port" in service else ("spec", "service")
        yield _w(doc, where, f"Service {clip(ns)}/{clip(name)}"
            f" exposes no port {clip(repr(port))} (it has {clip(repr(ports))})")


def _hpa(doc: Document, index: _Index) -> Iterator[Finding]:
    """An HPA's or KEDA ScaledObject's scale target exists, in a namespace this unit creates (a
    team's own namespace holds workloads the unit does not render)."""
    if doc.namespace not in index.namespaces:
        return
    ref = as_dict(doc.spec.get("scaleTargetRef"))
    # KEDA's defaults: apps/v1 Deployment.
    group = as_str(ref.get("apiVersion") or "apps/v1").rpartition("/")[0]
    kind, name = as_str(ref.get("kind") or "Deployment"), as_str(ref.get("name"))
    if not index.has(group, kind, doc.namespace, name):
        yield _w(
            doc, ("spec", "scaleTargetRef"), f"scale target {clip(kind)}/{clip(name)}"
                f" not found in namespace {clip(repr(doc.namespace))}"
        )


def _node_ports(docs: Sequence[Document]) -> Iterator[Finding]:
    used: dict[int, tuple[Document, str]] = {}
    low, high = NODE_PORT_RANGE
    for doc in docs:
        if (doc.group, doc.kind) != ("", "Service"):
            continue
        for i, port in enumerate(as_list(doc.spec.get("ports"))):
            node_port = as_dict(port).get("nodePort")
            if not isinstance(node_port, int):
                continue
            path = ("spec", "ports", i, "nodePort")
            protocol = as_dict(port).get("protocol", "TCP")
            if not low <= node_port <= high:
                yield _w(doc, path, f"nodePort {node_port} outside {low}-{high}")
            other = used.get(node_port)
            if other is None:
                used[node_port] = (doc, protocol)
            elif other[0] is not doc or other[1] == protocol:
                yield _w(doc, path, f"nodePort {node_port} already used by {other[0].ref} ({other[0].file})")
