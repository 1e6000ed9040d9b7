"""promtool on the rendered Prometheus configuration and rule files.

``promtool check config`` runs on every ConfigMap key ``prometheus.yml`` and ``promtool check
rules`` on every rule file (a ConfigMap key ending in ``.rules.yml``/``.rules.yaml``, or any
key whose YAML has a top-level ``groups``). promtool comes from Debian's ``prometheus`` package.

The configuration is checked inside a replica of the Prometheus container's file system: the
workload that mounts the ConfigMap is found, each of its container's volume mounts is written
under a temporary root (ConfigMap keys as they are, Secret and SealedSecret keys as
placeholders, the service-account token unless automount is off), and every absolute file path
in the configuration (``rule_files``, ``*_file``, file_sd ``files``) is moved under that root,
keeping line numbers. A ``rule_files`` pattern that matches no mounted file, or a
``--config.file`` that is not mounted, is a finding. A container started with ``--agent`` is
checked as an agent (``promtool check config --agent``: no rules, no alerting). Rule files are
checked on their own (with ``--lint-fatal``), so ``rule_files`` is removed before ``check config``.

Debian builds promtool without Kubernetes service discovery. When the promtool in use does not
know ``kubernetes_sd_configs``, those blocks are checked here (role, known fields) and blanked
out before promtool sees the file.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from promstack.validate import k8s, yamlsafe
from promstack.validate.findings import PROMTOOL, Finding, clip
from promstack.validate.k8s import as_dict, as_list, as_str
from promstack.validate.loader import Document, yaml_problem

DEBIAN_PACKAGE = "prometheus"
CONFIG_KEYS = ("prometheus.yml",)
RULE_SUFFIXES = (".rules.yml", ".rules.yaml")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PLACEHOLDER = "placeholder\n"

K8S_SD_ROLES = ("endpoints", "endpointslice", "ingress", "node", "pod", "service")
K8S_SD_FIELDS = frozenset(
    {
        "role",
        "api_server",
        "kubeconfig_file",
        "namespaces",
        "selectors",
        "attach_metadata",
        "basic_auth",
        "authorization",
        "oauth2",
        "bearer_token",
        "bearer_token_file",
        "tls_config",
        "proxy_url",
        "no_proxy",
        "proxy_from_environment",
        "proxy_connect_header",
        "follow_redirects",
        "enable_http2",
        "http_headers",
    }
)


class PromtoolMissing(Exception):
    """promtool is not installed (a usage error: exit 2)."""


def find_promtool(binary: str | None = None) -> str:
    """Path of promtool (``binary`` or the one on PATH); PromtoolMissing names the package to install."""
    found = shutil.which(binary or "promtool")
    if found is None:
        raise PromtoolMissing(
            f"{binary or 'promtool'} not found: install Debian's {DEBIAN_PACKAGE!r} package "
            f"(apt-get install -y --no-install-recommends {DEBIAN_PACKAGE}) or pass --skip-promtool"
        )
    return found


def _run(binary: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@cache
def knows_kubernetes_sd(binary: str) -> bool:
    """Whether this promtool build parses ``kubernetes_sd_configs`` (Debian's does not)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp, "probe.yml")
        probe.write_text("scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: node\n")
        rc, out = _run(binary, "check", "config", "--syntax-only", str(probe))
    return rc == 0 or "kubernetes_sd_configs not found" not in out


def _failures(output: str, replacements: dict[str, str]) -> str:
    """promtool's error lines, one message, temporary paths shown as the pod or key sees them."""
    lines = []
    for line in output.splitlines():
        text = line.strip()
        if (
            not text
            or text.startswith(("Checking ", "SUCCESS"))
            or text.endswith("is valid prometheus config file syntax")
        ):
            continue
        text = text.removeprefix("FAILED:").strip()
        if text:
            lines.append(text)
    message = "; ".join(lines) or "promtool failed without a message"
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(old, new)
    return message


def _data(doc: Document) -> dict[str, Any]:
    return as_dict(doc.obj.get("data"))


def is_rule_file(key: str, text: Any) -> bool:
    """A ConfigMap key holding Prometheus rules: by suffix, or YAML with top-level ``groups``."""
    if not isinstance(text, str) or key in CONFIG_KEYS:
        return False
    if key.endswith(RULE_SUFFIXES):
        return True
    return _has_groups(text)


@functools.lru_cache(maxsize=1024)
def _has_groups(text: str) -> bool:
    """YAML with top-level ``groups``; a fleet repeats its ConfigMap texts, so each distinct one is parsed once."""
    try:
        parsed = yamlsafe.load_single(text)  # bounded first: a ConfigMap value is input like any other
    except yaml.YAMLError:
        return False
    return parsed is not None and isinstance(parsed.data, dict) and "groups" in parsed.data


def check_prometheus(docs: Sequence[Document], binary: str,
                     pending: list[PendingConfig] | None = None) -> list[Finding]:
    """promtool findings of one unit: each Prometheus configuration and each rule file.

    With ``pending``, each ``promtool check config`` is prepared but not run: it is appended to
    ``pending``, and the caller runs it (with other units' ones) through ``run_configs``, which
    gives its findings.
    """
    if pending is None:
        mine: list[PendingConfig] = []
        try:
            prepared = check_prometheus(docs, binary, mine)
            return prepared + [f for found in run_configs(binary, mine) for f in found]
        finally:
            remove([job.tmp for job in mine])
    objects = [d for d in docs if d.is_object]
    configmaps = [d for d in objects if (d.group, d.kind) == ("", "ConfigMap")]
    findings: list[Finding] = []
    rule_files: dict[tuple[int, str], tuple[Document, str]] = {}
    for cm in configmaps:
        for key, text in _data(cm).items():
            if is_rule_file(key, text):
                rule_files[(id(cm), key)] = (cm, key)
    for cm in configmaps:
        for key in CONFIG_KEYS:
            if isinstance(_data(cm).get(key), str):
                found, matched = _check_config(cm, key, objects, binary, pending)
                findings += found
                for source in matched:
                    rule_files.setdefault((id(source[0]), source[1]), source)
    for cm, key in rule_files.values():
        findings += _check_rules(cm, key, binary)
    return findings


def _check_rules(cm: Document, key: str, binary: str) -> list[Finding]:
    text = _data(cm).get(key)
    if not isinstance(text, str):
        return []  # not text: the schema check reports it
    message = _rules_failures(binary, PurePosixPath(key).name or "rules.yaml", text)
    return [cm.finding(("data", key), f"promtool check rules: {message}", PROMTOOL)] if message else []


@functools.lru_cache(maxsize=256)
def _rules_failures(binary: str, name: str, text: str) -> str | None:
    """promtool's complaint about one rule file, or None; a fleet shares its rule files, so each
    distinct text is checked once."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)  # never outside tmp
        path.write_text(text, encoding="utf-8")
        rc, out = _run(binary, "check", "rules", "--lint-fatal", str(path))
    return None if rc == 0 else _failures(out, {str(path): name, tmp + os.sep: ""})


# -- the container file system --------------------------------------------------------------------


@dataclass
class _Mounts:
    """A replica of one container's mounted files under ``root``; ``origin`` maps files to keys."""

    root: Path
    origin: dict[PurePosixPath, tuple[Document, str]]

    def host(self, pod_path: str | PurePosixPath) -> Path:
        """Where a pod path lives under ``root`` (``..`` resolved, so never outside it)."""
        return self.root / posixpath.normpath("/" + str(pod_path)).lstrip("/")

    def write(self, pod_path: PurePosixPath, text: str, source: tuple[Document, str] | None = None) -> None:
        target = self.host(pod_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if source is not None:
            self.origin[PurePosixPath(posixpath.normpath("/" + str(pod_path)))] = source


def _sources(objects: Sequence[Document]) -> dict[tuple[str, str, str], Document]:
    """(kind, namespace, name) of ConfigMaps, ServiceAccounts and Secrets (a SealedSecret as its Secret)."""
    index: dict[tuple[str, str, str], Document] = {}
    for doc in objects:
        if (doc.group, doc.kind) in (("", "ConfigMap"), ("", "Secret"), ("", "ServiceAccount")):
            index.setdefault((doc.kind, doc.namespace, doc.name), doc)
        elif (doc.group, doc.kind) == ("bitnami.com", "SealedSecret"):
            template = as_dict(doc.spec.get("template"))
            name = as_str(as_dict(template.get("metadata")).get("name")) or doc.name
            index.setdefault(("Secret", doc.namespace, name), doc)
    return index


_Files = dict[str, tuple[str, Document | None]]


def _keys(doc: Document | None) -> _Files:
    """Files a ConfigMap/Secret/SealedSecret projects: key -> (content, source ConfigMap or None)."""
    if doc is None:
        return {}
    if doc.kind == "ConfigMap":
        files: _Files = {k: (v if isinstance(v, str) else PLACEHOLDER, doc) for k, v in _data(doc).items()}
        return files | dict.fromkeys(as_dict(doc.obj.get("binaryData")), (PLACEHOLDER, None))
    if doc.kind == "SealedSecret":
        template = as_dict(doc.spec.get("template"))
        keys = set(as_dict(doc.spec.get("encryptedData"))) | set(as_dict(template.get("data")))
    else:
        keys = set(_data(doc)) | set(as_dict(doc.obj.get("stringData")))
    return dict.fromkeys(keys, (PLACEHOLDER, None))


def _project(mounts: _Mounts, base: PurePosixPath, files: _Files, ref: dict[str, Any], sub_path: str) -> None:
    """Write ``files`` (all keys, or ``ref.items``) under ``base``; with ``sub_path`` only that file, at base."""
    items = [i for i in as_list(ref.get("items")) if isinstance(i, dict) and isinstance(i.get("key"), str)]
    chosen = {i["key"]: as_str(i.get("path")) or i["key"] for i in items} if items else {k: k for k in files}
    for key, rel in chosen.items():
        if key not in files or (sub_path and rel != sub_path):
            continue
        text, source = files[key]
        mounts.write(base if sub_path else base / rel, text, (source, key) if source is not None else None)


def _build_mounts(
    root: Path, template: k8s.PodTemplate, container: dict[str, Any], index: dict[tuple[str, str, str], Document]
) -> _Mounts:
    mounts = _Mounts(root, {})
    ns = template.doc.namespace

    def found(kind: str, name: Any) -> _Files:
        return _keys(index.get((kind, ns, as_str(name))))

    volumes = {as_str(v.get("name")): v for v in map(as_dict, as_list(template.spec.get("volumes")))}
    mounted: set[str] = set()
    for mount in map(as_dict, as_list(container.get("volumeMounts"))):
        volume = as_dict(volumes.get(as_str(mount.get("name"))))
        base = PurePosixPath(posixpath.normpath("/" + as_str(mount.get("mountPath"))))
        sub_path = as_str(mount.get("subPath"))
        mounted.add(str(base))
        mounts.host(base.parent if sub_path else base).mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            ref = as_dict(volume["configMap"])
            _project(mounts, base, found("ConfigMap", ref.get("name")), ref, sub_path)
        elif "secret" in volume:
            ref = as_dict(volume["secret"])
            _project(mounts, base, found("Secret", ref.get("secretName")), ref, sub_path)
        for source in map(as_dict, as_list(as_dict(volume.get("projected")).get("sources"))):
            if "configMap" in source:
                ref = as_dict(source["configMap"])
                _project(mounts, base, found("ConfigMap", ref.get("name")), ref, sub_path)
            elif "secret" in source:
                ref = as_dict(source["secret"])
                _project(mounts, base, found("Secret", ref.get("name")), ref, sub_path)
            elif "serviceAccountToken" in source:
                mounts.write(
                    base / (as_str(as_dict(source["serviceAccountToken"]).get("path")) or "token"), PLACEHOLDER
                )
            else:  # downwardAPI, clusterTrustBundle: content does not matter, only that the file is there
                for item in map(as_dict, as_list(as_dict(source.get("downwardAPI")).get("items"))):
                    mounts.write(base / (as_str(item.get("path")) or "unnamed"), PLACEHOLDER)
                if bundle_path := as_str(as_dict(source.get("clusterTrustBundle")).get("path")):
                    mounts.write(base / bundle_path, PLACEHOLDER)
    sa = index.get(("ServiceAccount", ns, as_str(template.spec.get("serviceAccountName")) or "default"))
    automount = template.spec.get("automountServiceAccountToken")
    if automount is None:
        automount = (sa.obj.get("automountServiceAccountToken") if sa else None) is not False
    if automount and SA_DIR not in mounted:
        for name in ("token", "ca.crt", "namespace"):
            mounts.write(PurePosixPath(SA_DIR) / name, PLACEHOLDER)
    return mounts


def _mounting_container(cm: Document, objects: Sequence[Document]) -> tuple[k8s.PodTemplate, dict[str, Any]] | None:
    """The workload container that mounts ``cm`` (preferring one that runs with --config.file)."""
    candidates = []
    for doc in objects:
        template = k8s.pod_template(doc)
        if template is None or doc.namespace != cm.namespace:
            continue
        names = set()
        for volume in map(as_dict, as_list(template.spec.get("volumes"))):
            sources = map(as_dict, as_list(as_dict(volume.get("projected")).get("sources")))
            refs = [as_dict(volume.get("configMap")), *(as_dict(s.get("configMap")) for s in sources)]
            if any(r.get("name") == cm.name for r in refs):
                names.add(as_str(volume.get("name")))
        for _, container in template.containers():
            if any(as_dict(m).get("name") in names for m in as_list(container.get("volumeMounts"))):
                reads_config = _config_file_arg(container) is not None
                candidates.append((not reads_config, doc.file, doc.index, template, container))
    if not candidates:
        return None
    _, _, _, template, container = min(candidates, key=lambda c: c[:3])
    return template, container


def _config_file_arg(container: dict[str, Any]) -> str | None:
    args = [str(a) for a in as_list(container.get("command")) + as_list(container.get("args"))]
    for i, arg in enumerate(args):
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
        if arg == "--config.file" and i + 1 < len(args):
            return args[i + 1]
    return None


# -- rewriting the configuration ------------------------------------------------------------------


@dataclass
class _Rewrite:
    text: str
    rule_globs: list[str]
    k8s_sd: list[tuple[str, Any]]  # (path, value) of each blanked kubernetes_sd_configs


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _rewrite(text: str, root: str, *, blank_k8s_sd: bool) -> _Rewrite:
    """Move absolute file paths under ``root``, drop rule_files (and Kubernetes SD), keep line numbers."""
    node = yamlsafe.compose(text)
    edits: list[tuple[int, int, str | None]] = []
    rule_globs: list[str] = []
    k8s_sd: list[tuple[str, Any]] = []

    def moved(scalar: yaml.Node) -> None:
        value = scalar.value
        if isinstance(scalar, yaml.ScalarNode) and isinstance(value, str) and value.startswith("/"):
            edits.append((scalar.start_mark.index, scalar.end_mark.index, json.dumps(root + value)))

    def walk(current: yaml.Node, path: str) -> None:
        if isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, f"{path}[{i}]")
            return
        if not isinstance(current, yaml.MappingNode):
            return
        for key_node, value in current.value:
            key = key_node.value
            here = f"{path}.{key}" if path else str(key)
            if key == "rule_files" or (key == "kubernetes_sd_configs" and blank_k8s_sd):
                if key == "rule_files" and isinstance(value, yaml.SequenceNode):
                    rule_globs.extend(str(item.value) for item in value.value if isinstance(item, yaml.ScalarNode))
                else:
                    k8s_sd.append((here, _construct(value)))
                edits.append((key_node.start_mark.index, value.end_mark.index, None))
            elif isinstance(key, str) and key.endswith("_file") and isinstance(value, yaml.ScalarNode):
                moved(value)
            elif key in ("files", "scrape_config_files") and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    moved(item)
            else:
                walk(value, here)

    if node is not None:
        walk(node, "")
    out = text
    for start, end, replacement in sorted(edits, reverse=True):
        if replacement is None:  # blank the span, keep its newlines
            replacement = "".join(c if c == "\n" else " " for c in out[start:end])
        out = out[:start] + replacement + out[end:]
    return _Rewrite(out, rule_globs, k8s_sd)


def _k8s_sd_problems(path: str, value: Any) -> Iterator[str]:
    if not isinstance(value, list):
        yield f"{path}: expected a list"
        return
    for i, sd in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(sd, dict):
            yield f"{where}: expected a mapping"
            continue
        for key in sorted(set(sd) - K8S_SD_FIELDS):
            yield f"{where}.{key}: unknown field"
        if sd.get("role") not in K8S_SD_ROLES:
            yield f"{where}.role: {clip(repr(sd.get('role')))} is not one of {', '.join(K8S_SD_ROLES)}"
        namespaces = sd.get("namespaces", {})
        if not isinstance(namespaces, dict) or set(namespaces) - {"names", "own_namespace"}:
            yield f"{where}.namespaces: only names and own_namespace are allowed"
        elif not isinstance(namespaces.get("names", []), list):
            yield f"{where}.namespaces.names: expected a list"
        for j, selector in enumerate(as_list(sd.get("selectors"))):
            if (
                not isinstance(selector, dict)
                or selector.get("role") not in K8S_SD_ROLES
                or set(selector) - {"role", "label", "field"}
            ):
                yield f"{where}.selectors[{j}]: needs a valid role and only label/field"


#: A RAM-backed folder for the file-system replicas, used when it has this much room.
SHM = "/dev/shm"
SHM_FREE_BYTES = 256 * 1024 * 1024


@cache
def scratch_dir() -> str | None:
    """Where the file-system replicas are made: the folder TMPDIR (or TEMP, TMP) names when set;
    else /dev/shm when it is a writable folder with SHM_FREE_BYTES free; else the system default (None).

    A replica is a dozen folders and files made and removed for every cluster checked. In memory
    that costs microseconds; on a disk each one can wait about a millisecond (ext4 with ``discard``
    here), a quarter of a 1,000-cluster gate. A replica takes well under 1 MiB.
    """
    if any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")):
        return None
    try:
        room = os.statvfs(SHM)
    except OSError:
        return None
    if os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK) and room.f_bavail * room.f_frsize >= SHM_FREE_BYTES:
        return SHM
    return None


def _check_config(
    cm: Document, key: str, objects: Sequence[Document], binary: str, pending: list[PendingConfig]
) -> tuple[list[Finding], list[tuple[Document, str]]]:
    """Findings found while preparing the check of one configuration, and the rule files it names;
    the promtool run itself is appended to ``pending`` (which then owns the temporary folder)."""
    tmp = tempfile.mkdtemp(prefix="promstack-promtool-", dir=scratch_dir())
    try:
        return _prepare_config(cm, key, objects, binary, tmp, pending)
    finally:
        if not (pending and pending[-1].tmp == tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _prepare_config(
    cm: Document, key: str, objects: Sequence[Document], binary: str,
    tmp: str, pending: list[PendingConfig],
) -> tuple[list[Finding], list[tuple[Document, str]]]:
    text = _data(cm)[key]
    findings: list[Finding] = []
    where = ("data", key)

    def finding(message: str) -> Finding:
        return cm.finding(where, message, PROMTOOL)

    root = Path(tmp, "fs")
    mounting = _mounting_container(cm, objects)
    if mounting is not None:
        template, container = mounting
        mounts = _build_mounts(root, template, container, _sources(objects))
        placed = [p for p, src in mounts.origin.items() if src == (cm, key)]
        wanted = _config_file_arg(container)
        owner = f"container {clip(repr(container.get('name')))} of {template.doc.ref}"
        if wanted and not mounts.host(wanted).is_file():
            findings.append(finding(f"--config.file={wanted} is not mounted in {owner}"))
            return findings, []
        config_path = PurePosixPath(wanted) if wanted else (placed[0] if placed else None)
        if config_path is None:
            return [finding(f"{key} is not mounted in {owner}")], []
        syntax_only = False
    else:
        owner = "the flat folder of the namespace's ConfigMap keys (no workload mounts this ConfigMap)"
        mounts = _Mounts(root, {})
        for other in objects:
            if (other.group, other.kind) == ("", "ConfigMap") and other.namespace == cm.namespace:
                for k, v in _data(other).items():
                    if isinstance(v, str):
                        mounts.write(PurePosixPath("/", k), v, (other, k))
        config_path = PurePosixPath("/", key)
        syntax_only = True
    try:
        rewritten = _rewrite(text, str(root), blank_k8s_sd=not knows_kubernetes_sd(binary))
    except yaml.YAMLError as exc:
        at, problem = yaml_problem(text, exc)
        return [finding(f"line {at[0]}, column {at[1]}: {problem}" if at else problem)], []
    for path, value in rewritten.k8s_sd:
        findings += [finding(p) for p in _k8s_sd_problems(path, value)]
    matched: list[tuple[Document, str]] = []
    config_dir = config_path.parent
    for pattern in rewritten.rule_globs:
        pod_pattern = posixpath.normpath(pattern if pattern.startswith("/") else str(config_dir / pattern))
        if mounting is None:
            pod_pattern = "/" + PurePosixPath(pod_pattern).name
        hits = sorted(mounts.root.glob(pod_pattern.lstrip("/"))) if pod_pattern.strip("/") else []
        if not hits:
            findings.append(finding(f"rule_files entry {clip(repr(pattern))} matches no file mounted in {owner}"))
        for hit in hits:
            source = mounts.origin.get(PurePosixPath("/", hit.relative_to(mounts.root).as_posix()))
            if source is not None:
                matched.append(source)
    target = mounts.host(config_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rewritten.text, encoding="utf-8")
    # A Prometheus started with --agent refuses rule_files and alerting: check it as one.
    agent = mounting is not None and "--agent" in map(str, as_list(mounting[1].get("args")))
    flags = ("--lint=none", *(["--syntax-only"] if syntax_only else []), *(["--agent"] if agent else []))
    pending.append(PendingConfig(flags, target, {str(target): key, str(root): ""}, finding, tmp))
    return findings, matched


# -- running promtool check config, several files at a time ---------------------------------------

#: Most configuration files given to one ``promtool check config``.
BATCH = 64


@dataclass
class PendingConfig:
    """A ``promtool check config`` of ``target`` with ``flags``, ready to run; folder ``tmp`` holds its file system."""

    flags: tuple[str, ...]
    target: Path
    replacements: dict[str, str]
    finding: Callable[[str], Finding]
    tmp: str


def run_configs(binary: str, pending: Sequence[PendingConfig]) -> list[list[Finding]]:
    """The findings of each of ``pending``, in its order (``remove`` removes their file systems).

    Configurations checked with the same flags go to one promtool run (up to ``BATCH`` files);
    promtool checks every file it is given and reports each under a ``Checking <file>`` line. When
    its output cannot be split that way, each file of that run is checked alone, so a finding is
    always what promtool says of that file checked on its own.
    """
    results: list[list[Finding]] = [[] for _ in pending]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, job in enumerate(pending):
        groups.setdefault(job.flags, []).append(i)
    for flags, indexes in groups.items():
        for start in range(0, len(indexes), BATCH):
            chunk = indexes[start:start + BATCH]
            failures = _check_configs(binary, flags, [pending[i].target for i in chunk])
            for i, failure in zip(chunk, failures, strict=True):
                if failure is not None:
                    message = _failures(failure, pending[i].replacements)
                    results[i].append(pending[i].finding(f"promtool check config: {message}"))
    return results


def remove(folders: Sequence[str]) -> None:
    """Remove the file-system replicas in ``folders`` (``PendingConfig.tmp``).

    Removing a folder can wait on the disk without using the CPU (~3 ms a folder on an ext4
    mounted with ``discard``, a dozen folders per replica, when ``scratch_dir`` is on disk), so the
    gate leaves this to its parent process, which has nothing else to do while the workers check.
    """
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _check_configs(binary: str, flags: tuple[str, ...], targets: Sequence[Path]) -> list[str | None]:
    """promtool's output for each of ``targets`` that fails ``check config``, None for one that passes."""
    if len(targets) > 1:
        proc = subprocess.run([binary, "check", "config", *flags, *map(str, targets)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)
        sections = _sections(proc.stdout, targets)
        if sections is not None and (proc.returncode != 0) == any(s is not None for s in sections):
            return sections
    out: list[str | None] = []
    for target in targets:
        rc, text = _run(binary, "check", "config", *flags, str(target))
        out.append(None if rc == 0 else text)
    return out


def _sections(output: str, targets: Sequence[Path]) -> list[str | None] | None:
    """``output`` of one promtool run over ``targets`` split per file: its failure text, or None when
    it passed. None when the output is not one ``Checking`` section per file, each either passed
    (promtool's SUCCESS line for it) or failed (a ``FAILED:`` line)."""
    starts: list[int] = []
    at = 0
    for target in targets:
        header = f"Checking {target}\n"
        at = output.find(header, at)
        if at < 0 or (at > 0 and output[at - 1] != "\n") or (not starts and output[:at].strip()):
            return None
        starts.append(at)
        at += len(header)
    sections: list[str | None] = []
    for k, target in enumerate(targets):
        text = output[starts[k]:starts[k + 1] if k + 1 < len(starts) else len(output)]
        lines = [line.strip() for line in text.splitlines()]
        passed = f"SUCCESS: {target} is valid prometheus config file syntax" in lines
        failed = any(line.startswith("FAILED:") for line in lines)
        if passed == failed:
            return None
        sections.append(text if failed else None)
    return sections
