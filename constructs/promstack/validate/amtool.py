"""amtool on the rendered Alertmanager configuration, and the wiring of its secret files.

``amtool check-config`` runs on every ConfigMap key ``alertmanager.yml``. amtool comes from Debian's
``prometheus-alertmanager`` package (0.25 on bookworm), older than the pinned image: it does not know
``webhook_configs[].url_file`` (0.26+). When the amtool in use rejects that field, each ``url_file``
is replaced by a placeholder ``url`` before amtool sees the file, and this module checks the part
amtool cannot: every ``*_file`` path (for every receiver type) must be a key of a Secret or
SealedSecret that the workload mounting the configuration mounts, at that path. That check runs
whatever amtool's version, since amtool never opens those files.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from promstack.validate.findings import Finding
from promstack.validate.k8s import as_dict, as_list, as_str
from promstack.validate.loader import Document

AMTOOL = "amtool"
DEBIAN_PACKAGE = "prometheus-alertmanager"
CONFIG_KEY = "alertmanager.yml"
_FILE_FIELD = re.compile(r"^(\s*-?\s*)(\w+_file):\s*(\S+)\s*$")


class AmtoolMissing(Exception):
    """amtool is not installed (a usage error: exit 2)."""


def find_amtool(binary: str | None = None) -> str:
    """Path of amtool (``binary`` or the one on PATH); AmtoolMissing names the package to install."""
    found = shutil.which(binary or AMTOOL)
    if found is None:
        raise AmtoolMissing(f"{binary or AMTOOL} not found: install Debian's {DEBIAN_PACKAGE!r} package "
                            f"(apt-get install -y --no-install-recommends {DEBIAN_PACKAGE}) or pass --skip-promtool")
    return found


def _run(binary: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run([binary, *args], capture_output=True, text=True, check=False, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


@cache
def knows_webhook_url_file(binary: str) -> bool:
    """Whether this amtool parses ``webhook_configs[].url_file`` (Debian bookworm's 0.25 does not)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp, "probe.yml")
        probe.write_text("route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
                         "      - url_file: /dev/null\n")
        rc, out = _run(binary, "check-config", str(probe))
    return rc == 0 or "url_file" not in out


def amtool_compatible(text: str, binary: str) -> str:
    """The configuration as ``binary`` can parse it: ``url_file`` becomes a placeholder ``url`` when
    that amtool predates it (same line numbers; the paths are checked by ``secret_file_findings``)."""
    if knows_webhook_url_file(binary):
        return text
    return re.sub(r"^([ \t]*-?[ \t]*)url_file:[ \t]*\S+[ \t]*$", r"\1url: http://url-file.placeholder.invalid/",
                  text, flags=re.M)


def secret_files(text: str) -> list[tuple[str, str]]:
    """Every ``(field, path)`` of a ``*_file`` setting in the configuration text."""
    return [(m.group(2), m.group(3).strip("'\"")) for m in map(_FILE_FIELD.match, text.splitlines()) if m]


def _mounted_secret_keys(workload: dict[str, Any], secrets: dict[str, set[str]]) -> dict[str, str]:
    """``{file path in the container: secret name}`` for every Secret key the workload mounts."""
    spec = as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec"))
    volumes = {as_str(v.get("name")): as_dict(v.get("secret")) for v in map(as_dict, as_list(spec.get("volumes")))}
    files: dict[str, str] = {}
    for container in map(as_dict, as_list(spec.get("containers"))):
        for volume_mount in map(as_dict, as_list(container.get("volumeMounts"))):
            secret = volumes.get(as_str(volume_mount.get("name")))
            if not secret:
                continue
            name = as_str(secret.get("secretName"))
            for key in secrets.get(name, set()):
                files[posixpath.join(as_str(volume_mount.get("mountPath")), key)] = name
    return files


def _mounts_config_map(workload: dict[str, Any], config_map: str) -> bool:
    spec = as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec"))
    return any(as_str(as_dict(v.get("configMap")).get("name")) == config_map
               for v in map(as_dict, as_list(spec.get("volumes"))))


def _secret_keys(objects: Sequence[Document]) -> dict[tuple[str, str], set[str]]:
    """``{(namespace, name): keys}`` of every Secret and SealedSecret (their encrypted keys)."""
    keys: dict[tuple[str, str], set[str]] = {}
    for doc in objects:
        obj, meta = doc.obj, as_dict(doc.obj.get("metadata"))
        where = (as_str(meta.get("namespace")), as_str(meta.get("name")))
        if obj.get("kind") == "Secret":
            keys[where] = set(as_dict(obj.get("data"))) | set(as_dict(obj.get("stringData")))
        elif obj.get("kind") == "SealedSecret":
            spec = as_dict(obj.get("spec"))
            template = as_dict(as_dict(spec.get("template")).get("metadata"))
            keys[(where[0], as_str(template.get("name")) or where[1])] = set(as_dict(spec.get("encryptedData")))
    return keys


def _configs(objects: Sequence[Document]) -> Iterator[tuple[Document, str]]:
    for doc in objects:
        if doc.obj.get("kind") == "ConfigMap":
            text = as_dict(doc.obj.get("data")).get(CONFIG_KEY)
            if isinstance(text, str):
                yield doc, text


def _finding(doc: Document, message: str, check: str = "amtool") -> Finding:
    meta = as_dict(doc.obj.get("metadata"))
    return Finding(doc.file, "ConfigMap", as_str(meta.get("namespace")), as_str(meta.get("name")),
                   f"data.{CONFIG_KEY}", message, check)


def secret_file_findings(objects: Sequence[Document]) -> list[Finding]:
    """Every ``*_file`` of every alertmanager.yml is a key of a Secret mounted at that path by each
    workload that mounts the configuration: a receiver whose file is missing never notifies."""
    findings: list[Finding] = []
    secrets = _secret_keys(objects)
    for doc, text in _configs(objects):
        meta = as_dict(doc.obj.get("metadata"))
        namespace, name = as_str(meta.get("namespace")), as_str(meta.get("name"))
        in_namespace = {n: keys for (ns, n), keys in secrets.items() if ns == namespace}
        workloads = [w.obj for w in objects if w.obj.get("kind") in {"StatefulSet", "Deployment"}
                     and as_str(as_dict(w.obj.get("metadata")).get("namespace")) == namespace
                     and _mounts_config_map(w.obj, name)]
        for workload in workloads:
            mounted = _mounted_secret_keys(workload, in_namespace)
            workload_name = as_str(as_dict(workload.get("metadata")).get("name"))
            for field, path in secret_files(text):
                if path not in mounted:
                    findings.append(_finding(doc, f"{field} {path} is not a key of any Secret that "
                                                  f"{workload.get('kind')}/{workload_name} mounts there; seal the "
                                                  "key into the receivers' Secret (promstack seal) and mount it",
                                             check="wiring"))
    return findings


def _failures(output: str, path: str) -> str:
    lines = [line.strip() for line in output.splitlines()]
    kept = [line.removeprefix(f"Checking '{path}'").strip().removeprefix("FAILED:").strip() for line in lines
            if line and not line.startswith(("Found:", "- ", "amtool: error: failed to validate"))]
    return "; ".join(line for line in kept if line and line != "SUCCESS") or "amtool failed without a message"


def check_alertmanager(objects: Sequence[Document], binary: str) -> list[Finding]:
    """``amtool check-config`` on every rendered alertmanager.yml, plus ``secret_file_findings``."""
    findings = secret_file_findings(objects)
    for doc, text in _configs(objects):
        failure = _config_failure(binary, text)
        if failure is not None:
            findings.append(_finding(doc, failure))
    return findings


@lru_cache(maxsize=256)
def _config_failure(binary: str, text: str) -> str | None:
    """amtool's complaint about one alertmanager.yml, or None; the file stands alone (templates that
    do not exist are no error), so a fleet's identical configurations are checked once."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, CONFIG_KEY)
        path.write_text(amtool_compatible(text, binary))
        rc, out = _run(binary, "check-config", str(path))
    return None if rc == 0 else _failures(out, str(path)).replace(str(path), CONFIG_KEY)
