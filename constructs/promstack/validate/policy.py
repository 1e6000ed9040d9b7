"""Policy: no plaintext Secrets or private keys, hardened containers, no RBAC wildcards.

Host namespaces and hostPath volumes are allowed only with a declared exception: the pod
template annotation ``hardening.promstack.io/<field>: "<reason>"`` where field is one of
hostNetwork, hostPID, hostIPC, hostPath, and the reason is not empty. Every exception's topic is
one promstack.config.hardening declares, and every checkov skip annotation on an object is backed
by a declared exception (on the object or its pod template) answering that check with the same
reason: no check is skipped by hand.
"""

from __future__ import annotations

import base64
import binascii
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from promstack.config import hardening
from promstack.validate import images, k8s
from promstack.validate.findings import POLICY, Finding, PathPart, clip, printable, short
from promstack.validate.k8s import as_dict, as_list
from promstack.validate.loader import Document, InputError

EXCEPTION_PREFIX = hardening.PREFIX
EXCEPTION_FIELDS = tuple(hardening.TOPICS)
#: Annotation key prefixes checkov reads as skips.
CHECKOV_SKIP_PREFIXES = ("checkov.io/skip", "bridgecrew.io/skip", "cortex.io/skip")
PULL_POLICIES = ("IfNotPresent", "Never")
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")

# A PEM private-key block (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8): the header followed by
# key material (base64 or legacy encryption headers), also inside YAML block scalars (indented)
# and JSON strings (literal \n). A header alone, e.g. in a test's assertion, is not key material.
# The same block base64-encoded, as it starts a value in a Secret's data, is found too.
_PEM_KEY = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----(?:\s|\\n)+(?:[A-Za-z0-9+/]{16}|Proc-Type:)")
_B64_PEM_START = re.compile(rb"LS0tLS1CRUdJTi[A-Za-z0-9+/=]{16,}")


def check_policy(docs: Sequence[Document]) -> list[Finding]:
    """Policy findings of every object in ``docs`` (no file scan: see ``scan_private_keys``)."""
    findings: list[Finding] = []
    for doc in docs:
        if not doc.is_object:
            continue
        key = (doc.group, doc.kind)
        if key in (("", "Secret"), ("", "ConfigMap")):
            findings += _data_size(doc)
        if key == ("", "Secret"):
            for field_name in ("data", "stringData"):
                if doc.obj.get(field_name):
                    findings.append(
                        doc.finding((field_name,), "Secret carries data in the output: use a SealedSecret", POLICY)
                    )
        elif key in (("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole")):
            findings += _rbac(doc)
        template = k8s.pod_template(doc)
        own_findings, declared = _exceptions(doc, as_dict(as_dict(doc.obj.get("metadata")).get("annotations")),
                                             ("metadata", "annotations"))
        findings += own_findings
        if template is not None:
            template_findings, template_declared = _exceptions(
                doc, template.annotations, (*template.path, "metadata", "annotations"))
            findings += template_findings
            declared.update(template_declared)
            findings += _host_access(template, template_declared)
            for path, container in template.containers():
                findings += _container(template, path, container)
        findings += _checkov_skips(doc, declared)
    return findings


#: Bytes of data a ConfigMap or Secret may hold (the API server's MaxSecretSize, for both).
MAX_DATA_BYTES = 1024 * 1024


def _decoded_size(value: str) -> int:
    """Bytes a base64 value decodes to (its length estimated from the text when it is not base64)."""
    text = value.replace("\n", "").replace("\r", "")
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return len(text) * 3 // 4


def _data_size(doc: Document) -> Iterator[Finding]:
    """ConfigMap data + binaryData, or Secret data + stringData, over MAX_DATA_BYTES (at the larger field)."""
    texts, encoded = ("data", "binaryData") if doc.kind == "ConfigMap" else ("stringData", "data")
    sizes: dict[str, tuple[str, int]] = {}  # key -> (field, bytes); a Secret's stringData wins over data
    for field_name in (encoded, texts):
        for name, value in as_dict(doc.obj.get(field_name)).items():
            if isinstance(value, str):
                size = len(value.encode("utf-8", "surrogatepass")) if field_name == texts else _decoded_size(value)
                sizes[name if doc.kind == "Secret" else f"{field_name}/{name}"] = (field_name, size)
    total = sum(size for _, size in sizes.values())
    if total > MAX_DATA_BYTES:
        per_field = {f: sum(size for g, size in sizes.values() if g == f) for f in (texts, encoded)}
        yield doc.finding(
            (max(per_field, key=lambda f: per_field[f]),),
            f"{doc.kind} holds {total} bytes of data, over the {MAX_DATA_BYTES} (1 MiB) the API server accepts: "
            "split it or ship the content another way",
            POLICY,
        )


#: Aggregated metrics APIs name their resources after metrics ("pods/http_requests"), an open-ended
#: set: reading them needs resources "*", which is allowed with read-only verbs.
METRICS_API_GROUPS = frozenset({"custom.metrics.k8s.io", "external.metrics.k8s.io"})
READ_VERBS = frozenset({"get", "list", "watch"})


def _open_ended_metrics_read(rule: dict[str, object]) -> bool:
    groups, verbs = as_list(rule.get("apiGroups")), as_list(rule.get("verbs"))
    return bool(groups) and all(g in METRICS_API_GROUPS for g in groups if isinstance(g, str)) and all(
        isinstance(x, str) for x in groups + verbs
    ) and all(v in READ_VERBS for v in verbs)


def _rbac(doc: Document) -> Iterator[Finding]:
    for i, rule in enumerate(as_list(doc.obj.get("rules"))):
        for field_name, what in (("verbs", "verb"), ("resources", "resource")):
            if field_name == "resources" and _open_ended_metrics_read(as_dict(rule)):
                continue
            for j, value in enumerate(as_list(as_dict(rule).get(field_name))):
                if isinstance(value, str) and "*" in value.split("/"):
                    yield doc.finding(
                        ("rules", i, field_name, j), f"wildcard {what} {clip(repr(value))}: list what is needed", POLICY
                    )


def _exceptions(doc: Document, annotations: dict[str, Any],
                at: tuple[PathPart, ...]) -> tuple[list[Finding], dict[str, str]]:
    """Findings about the hardening exceptions among ``annotations`` (found at ``at``), and the
    well-formed ones (topic -> reason)."""
    findings, reasons = [], {}
    for key, value in annotations.items():
        if not isinstance(key, str) or not key.startswith(EXCEPTION_PREFIX):
            continue
        field_name = key[len(EXCEPTION_PREFIX) :]
        path = (*at, key)
        if field_name not in EXCEPTION_FIELDS:
            findings.append(doc.finding(
                path, f"unknown hardening exception {clip(repr(field_name))} (known: {', '.join(EXCEPTION_FIELDS)})",
                POLICY,
            ))
        elif not isinstance(value, str) or not value.strip():
            findings.append(doc.finding(path, "hardening exception with an empty reason", POLICY))
        else:
            reasons[field_name] = value
    return findings, reasons


def _checkov_skips(doc: Document, declared: dict[str, str]) -> Iterator[Finding]:
    """A finding per checkov skip annotation that no declared exception backs with the same reason."""
    for key, value in as_dict(as_dict(doc.obj.get("metadata")).get("annotations")).items():
        if not isinstance(key, str) or not key.startswith(CHECKOV_SKIP_PREFIXES):
            continue
        path = ("metadata", "annotations", key)
        parsed = hardening.parse_skip(value)
        if parsed is None:
            yield doc.finding(path, f"checkov skip {short(value)} is not <check id>=<reason>", POLICY)
            continue
        check, reason = parsed
        topics = [topic for topic, checks in hardening.TOPICS.items() if check in checks]
        if not any(declared.get(topic) == reason for topic in topics):
            where = (f"a hardening.promstack.io/{' or '.join(topics)} exception with the same reason" if topics
                     else "an exception topic for it in promstack/config/hardening.py")
            yield doc.finding(path, f"checkov skip of {clip(check)} without {where}: skips come from declared "
                                    "exceptions, never by hand", POLICY)


def _host_access(template: k8s.PodTemplate, reasons: dict[str, str]) -> Iterator[Finding]:
    doc = template.doc
    hint = "without an exception: annotate the pod template with " + EXCEPTION_PREFIX
    for field_name in ("hostNetwork", "hostPID", "hostIPC"):
        if template.spec.get(field_name) is True and field_name not in reasons:
            yield doc.finding(template.at(field_name), f"{field_name} {hint}{field_name}: <reason>", POLICY)
    if "hostPath" not in reasons:
        for i, volume in enumerate(as_list(template.spec.get("volumes"))):
            if "hostPath" in as_dict(volume):
                yield doc.finding(
                    template.at("volumes", i, "hostPath"), f"hostPath volume {hint}hostPath: <reason>", POLICY
                )


def image_error(image: Any) -> str | None:
    """Why ``image`` is not pinned (no tag or digest, or ``latest``); None when it is."""
    if not isinstance(image, str) or not image:
        return "no image"
    if err := k8s.text_error(image):
        return f"image {short(image)} {err}: remove it"
    if err := images.reference_error(image):
        return err
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {clip(repr(image))} has no tag or digest: pin a version"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {clip(repr(image))} uses the latest tag: pin a version or digest"
    return None


def _container(template: k8s.PodTemplate, path: tuple[PathPart, ...], c: dict[str, Any]) -> Iterator[Finding]:
    doc = template.doc
    pod_sc = as_dict(template.spec.get("securityContext"))
    sc = as_dict(c.get("securityContext"))
    scp = (*path, "securityContext")

    def finding(rel: tuple[PathPart, ...], message: str) -> Finding:
        return doc.finding((*path, *rel), message, POLICY)

    if err := image_error(c.get("image")):
        yield finding(("image",), err)
    pull = c.get("imagePullPolicy")
    if pull not in PULL_POLICIES:
        shown = f"imagePullPolicy {clip(repr(pull))}" if pull is not None else "imagePullPolicy is not set"
        yield finding(("imagePullPolicy",), f"{shown}: must be IfNotPresent or Never")
    resources = as_dict(c.get("resources"))
    for section in ("requests", "limits"):
        for name in ("cpu", "memory"):
            if as_dict(resources.get(section)).get(name) in (None, ""):
                yield finding(("resources", section, name), f"no {name} {section[:-1]}")
    requests, limits = as_dict(resources.get("requests")), as_dict(resources.get("limits"))
    for name, limit in limits.items():
        request = k8s.parse_quantity(requests.get(name))
        if request is not None and (most := k8s.parse_quantity(limit)) is not None and request > most:
            yield finding(
                ("resources", "requests", name),
                f"{name} request {short(requests[name])} is above its limit {short(limit)}: the API server "
                "rejects the pod; lower the request or raise the limit",
            )
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root is not True:
        yield doc.finding(
            (*scp, "runAsNonRoot"), "runAsNonRoot is not true (set it on the container or the pod)", POLICY
        )
    if sc.get("readOnlyRootFilesystem") is not True:
        yield doc.finding((*scp, "readOnlyRootFilesystem"), "readOnlyRootFilesystem is not true", POLICY)
    if sc.get("allowPrivilegeEscalation") is not False:
        yield doc.finding((*scp, "allowPrivilegeEscalation"), "allowPrivilegeEscalation is not false", POLICY)
    if "ALL" not in as_list(as_dict(sc.get("capabilities")).get("drop")):
        yield doc.finding((*scp, "capabilities", "drop"), "capabilities.drop does not contain ALL", POLICY)
    seccomp = as_dict(sc.get("seccompProfile") or pod_sc.get("seccompProfile")).get("type")
    if seccomp not in SECCOMP_TYPES:
        yield doc.finding(
            (*scp, "seccompProfile", "type"),
            "seccompProfile.type is not RuntimeDefault (set it on the container or the pod)",
            POLICY,
        )
    if sc.get("privileged") is True:
        yield doc.finding((*scp, "privileged"), "privileged container", POLICY)
    for field_name in ("command", "args"):
        for i, arg in enumerate(as_list(c.get(field_name))):
            if isinstance(arg, str) and (err := argument_error(arg)):
                yield finding((field_name, i), f"argument {short(arg)} {err}")


#: Control characters an argument may never hold (a script may hold newlines and tabs).
_SCRIPT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def argument_error(arg: str) -> str | None:
    """Why a container argument is broken; None when it is fine.

    A flag or any one-line value (``--storage.tsdb.retention.time=15d``) may hold no control
    character nor surrounding whitespace: the process would receive ``15d\\n`` as the value.
    A multi-line argument is a script (``sh -c``): newlines and tabs are its own, anything else
    (a carriage return, NUL) breaks it.
    """
    if match := _SCRIPT_CONTROL.search(arg):
        return f"holds {k8s.control_name(match.group(0))}: remove it"
    if "\n" in arg.strip():
        return None
    if err := k8s.text_error(arg):
        return f"{err}: remove it, the process would receive it as part of the value"
    return None


def _key_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line, key type) of each private key in ``data``, PEM or base64-encoded PEM."""
    for match in _PEM_KEY.finditer(data):
        yield data.count(b"\n", 0, match.start()) + 1, (match.group(1).decode() + "PRIVATE KEY")
    for match in _B64_PEM_START.finditer(data):
        token = match.group(0)
        try:
            decoded = base64.b64decode(token[: len(token) // 4 * 4], validate=False)
        except (binascii.Error, ValueError):
            continue
        if (inner := _PEM_KEY.search(decoded)) is not None:
            yield data.count(b"\n", 0, match.start()) + 1, f"base64-encoded {inner.group(1).decode()}PRIVATE KEY"


def scan_private_keys(files: Iterable[tuple[str, Path]]) -> list[Finding]:
    """A finding per private key found in ``files`` ((shown name, path) pairs).

    A file that cannot be read is an InputError: a key in it would go unseen.
    """
    findings = []
    for shown, path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"{printable(shown)}: cannot read ({exc.strerror or type(exc).__name__}) to look for private keys: "
                "check that it is readable"
            ) from None
        for line, what in _key_lines(data):
            findings.append(
                Finding(shown, "", "", "", f"line {line}", f"private key material ({what} PEM block)", POLICY)
            )
    return findings


def tracked_files(repo: Path) -> list[tuple[str, Path]]:
    """(shown name, path) of every file git tracks in ``repo`` that exists in the work tree."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ValueError(f"{repo}: not a git work tree ({exc})") from exc
    names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    return [(str(repo / n) if str(repo) != "." else n, repo / n) for n in names if (repo / n).is_file()]
