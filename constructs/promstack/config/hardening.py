"""Deliberate exceptions to the hardening baseline: the one declaration both annotations come from.

A component declares an exception as ``hardening.promstack.io/<topic>: "<reason>"``, on its pod
template (workloads) or on the object itself (RBAC objects). That is what reviewers read and what
``promstack validate`` checks (host access only with a declared reason). Each topic also names the
checkov checks it answers; synth renders one ``checkov.io/skip<N>: <check>=<reason>`` annotation on
the object per check, with the same reason, so checkov reports the finding as skipped with the
reason instead of failed. No skip exists without its hardening declaration: the gate refuses one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

PREFIX = "hardening.promstack.io/"
CHECKOV_SKIP = "checkov.io/skip"
#: The fields whose use the gate refuses without a declared exception (host access).
HOST_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "hostPath")

#: Every exception topic and the checkov checks (kubernetes framework) it answers.
TOPICS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # hostPort comes with the host network: the container's port is the node's port either way.
    "hostNetwork": ("CKV_K8S_19", "CKV_K8S_26"),
    "hostPID": ("CKV_K8S_17",),
    "hostIPC": ("CKV_K8S_18",),
    "hostPath": (),
    "imagePullPolicy": ("CKV_K8S_15",),
    "imageDigest": ("CKV_K8S_43",),
    "serviceAccountToken": ("CKV_K8S_38",),
    "runAsUser": ("CKV_K8S_40",),
    "rbacWildcard": ("CKV_K8S_49", "CKV2_K8S_5"),
})

#: Why every container pulls IfNotPresent (checkov wants Always).
PULL_POLICY_REASON = (
    "every image is pinned by tag or digest, so IfNotPresent pulls it once per node and a restart never "
    "depends on the registry; promstack validate requires IfNotPresent or Never"
)
_CHECK_ID = re.compile(r"CKV2?_K8S_[0-9]+")


def digest_reason(containers: list[str]) -> str:
    """Why the named containers' images carry no digest (checkov wants one)."""
    return (f"{', '.join(containers)} pinned by tag only: promstack has no registry access and never invents a "
            "digest; set images.<component>.digest in cluster.yaml to the one the registry reports")


def exception_annotations(exceptions: Mapping[str, str]) -> dict[str, str]:
    """``hardening.promstack.io/<topic>: <reason>`` for each exception; ValueError for an unknown
    topic or a reason checkov could not carry (empty, or holding ``=``, its separator)."""
    for topic, reason in exceptions.items():
        if topic not in TOPICS:
            raise ValueError(f"unknown hardening exception {topic!r}; declare it in promstack/config/hardening.py")
        if not reason.strip() or "=" in reason or "\n" in reason:
            raise ValueError(f"hardening exception {topic!r}: give a one-line reason without '='")
    return {PREFIX + topic: reason for topic, reason in exceptions.items()}


def declared(annotations: Mapping[str, Any] | None) -> dict[str, str]:
    """The exceptions (topic -> reason) among ``annotations``."""
    return {key[len(PREFIX):]: value for key, value in (annotations or {}).items()
            if isinstance(key, str) and key.startswith(PREFIX) and isinstance(value, str)}


def skips(exceptions: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(check, reason) for every checkov check the exceptions answer, sorted by check."""
    found = {check: reason for topic, reason in exceptions.items() for check in TOPICS.get(topic, ())}
    yield from sorted(found.items())


def checkov_annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    """``checkov.io/skip<N>: <check>=<reason>`` for a rendered object, from the exceptions declared
    on it and on its pod template (numbered from 1 in check order)."""
    exceptions = declared((obj.get("metadata") or {}).get("annotations"))
    template = _pod_template(obj)
    if template is not None:
        exceptions.update(declared((template.get("metadata") or {}).get("annotations")))
    return {f"{CHECKOV_SKIP}{n}": f"{check}={reason}" for n, (check, reason) in enumerate(skips(exceptions), 1)}


def parse_skip(value: Any) -> tuple[str, str] | None:
    """(check, reason) of a ``checkov.io/skip<N>`` value, or None when it is not ``<check>=<reason>``."""
    if not isinstance(value, str) or value.count("=") != 1:
        return None
    check, reason = value.split("=")
    return (check, reason) if _CHECK_ID.fullmatch(check) and reason.strip() else None


def _pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") if isinstance(spec, Mapping) else None
    return template if isinstance(template, Mapping) else None
