"""What synth reads from a cluster folder besides cluster.yaml: sealed inputs and public certificates.

Read once, at the edge, and handed to the components as values; no construct touches the filesystem.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from promstack.certs import CertError
from promstack.certs.sealing import read_sealed_secret
from promstack.config import alerting, names
from promstack.config.cluster import ClusterConfig
from promstack.config.model import ConfigError

ISSUE_COMMAND = "promstack certs issue --cluster {cluster} --sealing-cert <controller-cert.pem>"


@dataclass(frozen=True)
class SealedServingCert:
    """The adapter's serving certificate as `promstack certs issue` left it: the SealedSecret
    manifest (keys ``serving.crt``/``serving.key``) and the PEM of the CA the APIService trusts."""

    manifest: dict[str, Any]
    ca_pem: bytes


@dataclass(frozen=True)
class ClusterInputs:
    """The sealed inputs of one cluster folder; ``None`` where the folder has none."""

    adapter_serving_cert: SealedServingCert | None = None
    grafana_admin: dict[str, Any] | None = None
    alertmanager_receivers: dict[str, Any] | None = None


def load_sealed_input(path: Path, *, name: str, namespace: str, required_keys: Collection[str],
                      fix: str) -> dict[str, Any]:
    """Read a SealedSecret file and check it is the Secret the component mounts, in its namespace."""
    try:
        manifest = read_sealed_secret(path)
    except CertError as exc:
        raise ConfigError([str(exc)]) from None
    meta = manifest["metadata"]
    problems = []
    if meta["name"] != name:
        problems.append(f"{path}: metadata.name: must be {name}; {fix}")
    if meta["namespace"] != namespace:
        problems.append(f"{path}: metadata.namespace: {meta['namespace']!r} is not the cluster's namespace "
                        f"{namespace!r}; the controller could not decrypt it there; {fix}")
    missing = sorted(set(required_keys) - set(manifest["spec"]["encryptedData"]))
    if missing:
        problems.append(f"{path}: spec.encryptedData: missing {', '.join(missing)}; {fix}")
    if problems:
        raise ConfigError(problems)
    return manifest


def load_serving_cert(cluster: ClusterConfig) -> SealedServingCert:
    """The sealed serving certificate and CA for adapter.tls.mode ``sealed``."""
    sealed_file, ca_file = cluster.path / names.ADAPTER_SEALED_SECRET_FILE, cluster.path / names.ADAPTER_CA_FILE
    issue = f"run `{ISSUE_COMMAND.format(cluster=cluster.name)}`"
    missing = [p for p in (sealed_file, ca_file) if not p.exists()]
    if missing:
        raise ConfigError([f"{p}: (file): missing for adapter.tls.mode sealed; {issue}" for p in missing])
    manifest = load_sealed_input(sealed_file, name=names.ADAPTER_SERVING_SECRET, namespace=cluster.namespace,
                                 required_keys=names.ADAPTER_SERVING_KEYS, fix=f"{issue} --force")
    ca_pem = ca_file.read_bytes()
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError("basicConstraints says it is not a CA")
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise ConfigError([f"{ca_file}: (file): not a PEM CA certificate ({exc}); {issue} --force"]) from None
    return SealedServingCert(manifest=manifest, ca_pem=ca_pem)


def load_grafana_admin(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed Grafana admin Secret, when the cluster folder has one."""
    sealed_file = cluster.path / names.GRAFANA_ADMIN_SECRET_FILE
    if not sealed_file.exists():
        return None
    fix = (f"re-seal it with `promstack seal --cluster {cluster.name} --name {names.GRAFANA_ADMIN_SECRET} "
           "--from-file admin-password=<file>`")
    return load_sealed_input(sealed_file, name=names.GRAFANA_ADMIN_SECRET, namespace=cluster.namespace,
                             required_keys=("admin-password",), fix=fix)


def load_alertmanager_receivers(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed receiver secrets, holding every key the receivers in cluster.yaml name."""
    keys = cluster.spec.alertmanager.secret_keys()
    sealed_file = cluster.path / alerting.RECEIVERS_SECRET_FILE
    seal = (f"promstack seal --cluster {cluster.name} --name {alerting.RECEIVERS_SECRET} "
            + " ".join(f"--from-file {key}=<file>" for key in keys or ["<key>"]))
    if not sealed_file.exists():
        if keys:
            raise ConfigError([f"{sealed_file}: (file): missing; the receivers in cluster.yaml name the sealed "
                               f"keys {', '.join(keys)}; run `{seal}`"])
        return None
    return load_sealed_input(sealed_file, name=alerting.RECEIVERS_SECRET, namespace=cluster.namespace,
                             required_keys=keys, fix=f"seal every key the receivers name: `{seal}`")


def load_inputs(cluster: ClusterConfig) -> ClusterInputs:
    """Every input the cluster's settings call for, or a ConfigError naming each missing or bad file."""
    serving = load_serving_cert(cluster) if cluster.spec.adapter.tls.mode == "sealed" else None
    return ClusterInputs(adapter_serving_cert=serving, grafana_admin=load_grafana_admin(cluster),
                         alertmanager_receivers=load_alertmanager_receivers(cluster))
