"""Changes Kubernetes refuses on update: immutable fields, compared between two versions of one object.

A GitOps sync applies dist/ onto the live objects; a change to an immutable field fails that sync
("field is immutable") until someone deletes and recreates the object. The rules follow the API
server's update validation (pkg/apis/*/validation ``Validate*Update``):

- StatefulSet (apps): every ``spec`` field except ``replicas``, ``template``, ``updateStrategy``,
  ``minReadySeconds``, ``ordinals``, ``revisionHistoryLimit`` and ``persistentVolumeClaimRetentionPolicy``:
  so ``selector``, ``serviceName``, ``podManagementPolicy`` and ``volumeClaimTemplates``.
- Deployment, DaemonSet, ReplicaSet (apps): ``spec.selector``.
- Job (batch): ``spec.selector``, ``spec.template``, ``spec.completionMode``, ``spec.podFailurePolicy``.
- Service (core): ``spec.clusterIP`` / ``spec.clusterIPs`` once set (to a different address, or to or
  from ``None``, headless), and ``spec.type`` away from a headless Service; ``spec.loadBalancerClass``.
- PersistentVolumeClaim (core): every ``spec`` field except ``resources.requests.storage`` growth
  (shrinking is refused) and ``volumeAttributesClassName``.
- PersistentVolume (core): the volume source (``spec`` other than capacity, access modes, reclaim
  policy, claimRef, mount options, storage class, node affinity and volume mode is refused).
- ConfigMap, Secret (core): ``data``, ``binaryData``, ``stringData`` and ``type`` once ``immutable: true``,
  and ``immutable`` itself from true; a Secret's ``type`` always.
- RoleBinding, ClusterRoleBinding (rbac.authorization.k8s.io): ``roleRef``.
- StorageClass (storage.k8s.io): ``provisioner``, ``parameters``, ``reclaimPolicy``, ``volumeBindingMode``.
- CustomResourceDefinition (apiextensions.k8s.io): ``spec.scope``.
- Pod (core): ``spec`` except container and init container ``image``, ``activeDeadlineSeconds``,
  ``terminationGracePeriodSeconds`` and added ``tolerations``.

The comparison is of the manifests, as the sync sends them: a field a manifest leaves out and the
server defaults (Service ``type: ClusterIP``, StatefulSet ``podManagementPolicy: OrderedReady``) is
read as that default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from promstack.validate.findings import format_path

#: How a finding names the problem: ``immutable: Kubernetes refuses this change; <fix>``.
PREFIX = "immutable: Kubernetes refuses this change"

_MISSING: Any = object()


@dataclass(frozen=True)
class Immutable:
    """One refused change: the field path (``spec.selector``) and how to get the change through."""

    path: str
    fix: str

    @property
    def message(self) -> str:
        return f"{PREFIX}; {self.fix}"


def _get(obj: Any, *parts: str) -> Any:
    for part in parts:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _recreate(kind: str, short: str, name: str, namespace: str, *, orphan: bool) -> str:
    ns = f" -n {namespace}" if namespace else ""
    if orphan:
        return (f"orphan-delete it with `kubectl delete {short} {name}{ns} --cascade=orphan` and let the sync "
                f"recreate it (its pods keep running and are adopted), or revert the change")
    return f"delete it with `kubectl delete {short} {name}{ns}` and let the sync recreate it, or revert the change"


def _changed(old: Any, new: Any, default: Any = _MISSING) -> bool:
    if default is not _MISSING:
        old = default if old is _MISSING else old
        new = default if new is _MISSING else new
    return bool(old != new)


_STS_MUTABLE = frozenset({"replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                          "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy"})
_STS_DEFAULTS = {"podManagementPolicy": "OrderedReady"}


def _statefulset(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    old_spec, new_spec = _get(old, "spec"), _get(new, "spec")
    old_spec = old_spec if isinstance(old_spec, dict) else {}
    new_spec = new_spec if isinstance(new_spec, dict) else {}
    for key in sorted((set(old_spec) | set(new_spec)) - _STS_MUTABLE):
        if _changed(old_spec.get(key, _MISSING), new_spec.get(key, _MISSING), _STS_DEFAULTS.get(key, _MISSING)):
            yield Immutable(format_path(("spec", key)), fix)


def _fields(*paths: tuple[str, ...]) -> Callable[[dict[str, Any], dict[str, Any], str], Iterator[Immutable]]:
    def check(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
        for path in paths:
            if _changed(_get(old, *path), _get(new, *path)):
                yield Immutable(format_path(path), fix)

    return check


def _service(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    old_ip, new_ip = _get(old, "spec", "clusterIP"), _get(new, "spec", "clusterIP")
    old_headless, new_headless = old_ip == "None", new_ip == "None"
    if old_headless != new_headless:
        yield Immutable("spec.clusterIP", "headless (clusterIP None) and not are different Services; " + fix)
    elif old_ip not in (_MISSING, "") and new_ip not in (_MISSING, "") and old_ip != new_ip:
        yield Immutable("spec.clusterIP", fix)
    elif old_ip in (_MISSING, "") and new_ip not in (_MISSING, "", "None"):
        yield Immutable("spec.clusterIP", "the live Service has an allocated address that this one replaces; " + fix)
    old_ips, new_ips = _get(old, "spec", "clusterIPs"), _get(new, "spec", "clusterIPs")
    if isinstance(old_ips, list) and isinstance(new_ips, list) and old_ips[:1] != new_ips[:1]:
        yield Immutable("spec.clusterIPs[0]", fix)
    old_type = _get(old, "spec", "type")
    new_type = _get(new, "spec", "type")
    if old_headless and new_headless and _changed(old_type, new_type, "ClusterIP"):
        yield Immutable("spec.type", "a headless Service stays ClusterIP; " + fix)
    if _changed(_get(old, "spec", "loadBalancerClass"), _get(new, "spec", "loadBalancerClass")) \
            and _get(old, "spec", "type") == "LoadBalancer" and new_type == "LoadBalancer":
        yield Immutable("spec.loadBalancerClass", fix)


_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
    "Ei": Decimal(2**60), "m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (``10Gi``, ``500M``, ``1e3``) as a number, or None if it is none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    number, factor = text, Decimal(1)
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            number, factor = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    try:
        return Decimal(number) * factor
    except InvalidOperation:
        return None


def _pvc(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    old_spec, new_spec = _get(old, "spec"), _get(new, "spec")
    old_spec = dict(old_spec) if isinstance(old_spec, dict) else {}
    new_spec = dict(new_spec) if isinstance(new_spec, dict) else {}
    old_size, new_size = _get(old_spec, "resources", "requests", "storage"), _get(new_spec, "resources", "requests",
                                                                                 "storage")
    if old_size != new_size:
        before, after = quantity(old_size), quantity(new_size)
        if before is None or after is None or after < before:
            yield Immutable("spec.resources.requests.storage", "a volume only grows (and only where its StorageClass "
                            "has allowVolumeExpansion); " + fix)
    for spec in (old_spec, new_spec):
        spec.pop("volumeAttributesClassName", None)
        requests = _get(spec, "resources", "requests")
        if isinstance(requests, dict):
            spec["resources"] = {**spec["resources"], "requests": {k: v for k, v in requests.items() if k != "storage"}}
    for key in sorted(set(old_spec) | set(new_spec)):
        if _changed(old_spec.get(key, _MISSING), new_spec.get(key, _MISSING)):
            yield Immutable(format_path(("spec", key)), fix)


_PV_MUTABLE = frozenset({"capacity", "accessModes", "persistentVolumeReclaimPolicy", "claimRef", "mountOptions",
                         "storageClassName", "nodeAffinity", "volumeMode", "volumeAttributesClassName"})


def _pv(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    old_spec, new_spec = _get(old, "spec"), _get(new, "spec")
    old_spec = old_spec if isinstance(old_spec, dict) else {}
    new_spec = new_spec if isinstance(new_spec, dict) else {}
    for key in sorted((set(old_spec) | set(new_spec)) - _PV_MUTABLE):
        if _changed(old_spec.get(key, _MISSING), new_spec.get(key, _MISSING)):
            yield Immutable(format_path(("spec", key)), fix)


def _data(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    if old.get("kind") == "Secret" and _changed(old.get("type", _MISSING), new.get("type", _MISSING), "Opaque"):
        yield Immutable("type", fix)
    if old.get("immutable") is not True:
        return
    if new.get("immutable") is not True:
        yield Immutable("immutable", fix)
    for key in ("data", "binaryData", "stringData"):
        if _changed(old.get(key, _MISSING), new.get(key, _MISSING)):
            yield Immutable(key, "it is immutable: true; " + fix)


_POD_MUTABLE = frozenset({"activeDeadlineSeconds", "terminationGracePeriodSeconds"})


def _pod(old: dict[str, Any], new: dict[str, Any], fix: str) -> Iterator[Immutable]:
    old_spec, new_spec = _get(old, "spec"), _get(new, "spec")
    old_spec = old_spec if isinstance(old_spec, dict) else {}
    new_spec = new_spec if isinstance(new_spec, dict) else {}

    def without_images(containers: Any) -> Any:
        if not isinstance(containers, list):
            return containers
        return [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in containers]

    for key in sorted((set(old_spec) | set(new_spec)) - _POD_MUTABLE):
        before, after = old_spec.get(key, _MISSING), new_spec.get(key, _MISSING)
        if key in ("containers", "initContainers"):
            before, after = without_images(before), without_images(after)
        if key == "tolerations" and isinstance(before, list) and isinstance(after, list) \
                and after[: len(before)] == before:
            continue  # tolerations may only be added
        if _changed(before, after):
            yield Immutable(format_path(("spec", key)), fix)


#: (API group, kind) -> (kubectl resource name, orphan-delete keeps the pods, check).
_RULES: dict[tuple[str, str], tuple[str, bool, Callable[[dict[str, Any], dict[str, Any], str],
                                                       Iterator[Immutable]]]] = {
    ("apps", "StatefulSet"): ("statefulset", True, _statefulset),
    ("apps", "Deployment"): ("deployment", True, _fields(("spec", "selector"))),
    ("apps", "DaemonSet"): ("daemonset", True, _fields(("spec", "selector"))),
    ("apps", "ReplicaSet"): ("replicaset", True, _fields(("spec", "selector"))),
    ("batch", "Job"): ("job", False, _fields(("spec", "selector"), ("spec", "template"), ("spec", "completionMode"),
                                             ("spec", "podFailurePolicy"))),
    ("", "Service"): ("service", False, _service),
    ("", "PersistentVolumeClaim"): ("pvc", False, _pvc),
    ("", "PersistentVolume"): ("pv", False, _pv),
    ("", "ConfigMap"): ("configmap", False, _data),
    ("", "Secret"): ("secret", False, _data),
    ("", "Pod"): ("pod", False, _pod),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("rolebinding", False, _fields(("roleRef",))),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("clusterrolebinding", False, _fields(("roleRef",))),
    ("storage.k8s.io", "StorageClass"): ("storageclass", False, _fields(
        ("provisioner",), ("parameters",), ("reclaimPolicy",), ("volumeBindingMode",))),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("crd", False, _fields(("spec", "scope"))),
}


def immutable_changes(group: str, kind: str, namespace: str, name: str, old: dict[str, Any],
                      new: dict[str, Any]) -> list[Immutable]:
    """Every change from ``old`` to ``new`` (one object, two versions) that the API server refuses."""
    rule = _RULES.get((group, kind))
    if rule is None:
        return []
    short, orphan, check = rule
    fix = _recreate(kind, short, name, namespace, orphan=orphan)
    if kind == "PersistentVolumeClaim":
        fix = ("a PVC cannot be recreated in place while a pod uses it: back up the data, delete the PVC and let "
               f"the sync recreate it (`kubectl delete pvc {name}{f' -n {namespace}' if namespace else ''}`), "
               "or revert the change")
    return list(check(old, new, fix))
