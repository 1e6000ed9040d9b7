"""Kubernetes facts the checks share: scopes, where pod templates live, name and label rules."""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from promstack.validate.findings import PathPart
from promstack.validate.loader import Document

#: (group, kind) of the cluster-scoped built-in kinds; every other built-in kind is namespaced.
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("authentication.k8s.io", "TokenReview"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("resource.k8s.io", "DeviceTaintRule"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
    }
)

_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy"})


def is_builtin_group(group: str) -> bool:
    """The core group, the unsuffixed built-in groups and every ``*.k8s.io`` group."""
    return group in _BUILTIN_GROUPS or group == "k8s.io" or group.endswith(".k8s.io")


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_TEMPLATE_KINDS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("", "ReplicationController"),
}


@dataclass(frozen=True)
class PodTemplate:
    """A pod template inside an object: ``path`` leads to it, ``meta``/``spec`` are its parts."""

    doc: Document
    path: tuple[PathPart, ...]
    meta: dict[str, Any]
    spec: dict[str, Any]

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.meta.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        annotations = self.meta.get("annotations")
        return annotations if isinstance(annotations, dict) else {}

    def at(self, *parts: PathPart) -> tuple[PathPart, ...]:
        """Path of a pod-spec field: ``at("volumes", 0)`` -> ``spec.template.spec.volumes[0]``."""
        return (*self.path, "spec", *parts)

    def containers(self, *, init: bool = True) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
        """(path, container) of every container and, with ``init`` (default), init container."""
        for field_name in ("initContainers", "containers") if init else ("containers",):
            items = self.spec.get(field_name)
            if isinstance(items, list):
                for i, container in enumerate(items):
                    if isinstance(container, dict):
                        yield self.at(field_name, i), container

    def serving_containers(self) -> Iterator[dict[str, Any]]:
        """Containers that serve traffic: regular ones and sidecars (restartPolicy Always)."""
        for path, container in self.containers():
            if path[-2] == "containers" or container.get("restartPolicy") == "Always":
                yield container


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else ``{}``: checks read malformed input without crashing."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]``."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def pod_template(doc: Document) -> PodTemplate | None:
    """The pod template of a workload, Job, CronJob, PodTemplate or Pod; None for any other object."""
    key = (doc.group, doc.kind)
    if key == ("", "PodTemplate"):
        template = as_dict(doc.obj.get("template"))
        return PodTemplate(doc, ("template",), as_dict(template.get("metadata")), as_dict(template.get("spec")))
    if key in _TEMPLATE_KINDS:
        template = as_dict(doc.spec.get("template"))
        return PodTemplate(doc, ("spec", "template"), as_dict(template.get("metadata")), as_dict(template.get("spec")))
    if key == ("batch", "CronJob"):
        job_spec = as_dict(as_dict(doc.spec.get("jobTemplate")).get("spec"))
        template = as_dict(job_spec.get("template"))
        return PodTemplate(
            doc,
            ("spec", "jobTemplate", "spec", "template"),
            as_dict(template.get("metadata")),
            as_dict(template.get("spec")),
        )
    if key == ("", "Pod"):
        return PodTemplate(doc, (), doc.metadata, doc.spec)
    return None


# -- names and labels, as k8s.io/apimachinery/pkg/util/validation applies them ------------------
# Patterns are matched whole (fullmatch): with re.match, "$" also matches before a trailing
# newline, and "monitoring\n" passed as a DNS label.

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def dns1123_label_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be at most 63 characters (DNS-1123 label)"
    if not _DNS1123_LABEL.fullmatch(value):
        return "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns1123_subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return "must be at most 253 characters (DNS-1123 subdomain)"
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return (
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def dns1035_label_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be at most 63 characters (DNS-1035 label)"
    if not _DNS1035_LABEL.fullmatch(value):
        return "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter"
    return None


def path_segment_error(value: str) -> str | None:
    if value in (".", ".."):
        return f"may not be {value!r}"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain {bad!r}"
    return None


def qualified_name_error(key: str) -> str | None:
    """Label and annotation keys: ``[prefix/]name``, prefix a DNS-1123 subdomain, name at most 63."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if prefix and (err := dns1123_subdomain_error(prefix)):
        return f"prefix part {err}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be at most 63 characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return "name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be at most 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return "must be empty or alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    return None


def port_name_error(value: str) -> str | None:
    """Port names are IANA service names: at most 15 characters, a letter, no '--'."""
    if len(value) > 15:
        return "must be at most 15 characters (IANA service name)"
    if not _IANA_SVC_NAME.fullmatch(value):
        return "must be lowercase letters, digits and '-', starting and ending with a letter or digit"
    if "--" in value:
        return "must not contain '--'"
    if not any(c.isalpha() for c in value):
        return "must contain at least one letter"
    return None


_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def config_key_error(key: str) -> str | None:
    """ConfigMap and Secret data keys: ``[-._a-zA-Z0-9]+``, at most 253 characters, not ``.`` or ``..``."""
    if len(key) > 253:
        return "must be at most 253 characters"
    if not _CONFIG_KEY.fullmatch(key):
        return "must be alphanumerics, '-', '_' or '.'"
    if key in (".", "..") or key.startswith(".."):
        return "must not be '.' or '..' or start with '..'"
    return None


def text_error(value: str) -> str | None:
    """A control character anywhere or whitespace around a value that is a name or a flag."""
    if match := _CONTROL_CHAR.search(value):
        return f"holds {control_name(match.group(0))}"
    if value != value.strip():
        return "has leading or trailing whitespace"
    return None


_CONTROL_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}


def control_name(char: str) -> str:
    return _CONTROL_NAMES.get(char, f"control character U+{ord(char):04X}")


def object_name_error(group: str, kind: str, name: str) -> str | None:
    """The name rule the API server applies to ``kind``; DNS-1123 subdomain unless listed.

    A name of the kinds whose rule is looser (RBAC's path segments) still may not hold a
    control character or surrounding whitespace: no config means one.
    """
    if err := text_error(name):
        return f"{err}: remove it"
    if (group, kind) == ("", "Service"):
        return dns1035_label_error(name)
    if (group, kind) == ("", "Namespace"):
        return dns1123_label_error(name)
    if group == "rbac.authorization.k8s.io":
        return path_segment_error(name)
    return dns1123_subdomain_error(name)


# -- resource quantities, as k8s.io/apimachinery/pkg/api/resource parses them ---------------------

_QUANTITY = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d{1,6})?")
_BINARY_SI = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
#: Exact for any quantity of at most 100 characters (digits times 1024**6 or a power of ten).
_EXACT = decimal.Context(prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
QUANTITY_FORM = "a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or exponent (e3)"


def parse_quantity(value: Any) -> Decimal | None:
    """The exact value of a Kubernetes quantity (``"250m"`` -> 0.25, ``"1Gi"`` -> 1073741824, ``2`` -> 2).

    None when ``value`` is not one: a string outside the quantity grammar (surrounding spaces,
    a newline, ``"1Gb"``, ``"1K"``), a boolean, or a number that is not finite.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if not isinstance(value, str) or len(value) > 100:
        return None
    match = _QUANTITY.fullmatch(value)
    if match is None:
        return None
    sign, number, suffix = match.group(1), match.group(2), match.group(3) or ""
    amount = Decimal(sign + number)
    if suffix in _BINARY_SI:
        return _EXACT.multiply(amount, _EXACT.power(1024, _BINARY_SI[suffix]))
    exponent = int(suffix[1:]) if suffix[:1] in ("e", "E") and len(suffix) > 1 else _DECIMAL_SI[suffix]
    return _EXACT.scaleb(amount, exponent)


def quantity_error(value: Any) -> str | None:
    """Why ``value`` is not a quantity, with the fix, for a message; None when it is one."""
    if parse_quantity(value) is not None:
        return None
    if isinstance(value, str) and (value != value.strip() or _CONTROL_CHAR.search(value)):
        return "whitespace or a control character in it: remove it"
    if isinstance(value, float):
        return "not a finite number"
    return f"write {QUANTITY_FORM}"


_CONTROL_CHAR = re.compile(r"[\x00-\x1f\x7f-\x9f]")
