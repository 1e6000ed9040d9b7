"""Sealed inputs in a cluster folder (written by `promstack certs issue` or `promstack seal`) as objects."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from cdk8s import ApiObjectMetadata
from sealedsecrets.com.bitnami import SealedSecret, SealedSecretSpec, SealedSecretSpecTemplate

from promstack.certs import CertError
from promstack.certs.sealing import read_sealed_secret
from promstack.components.base import ComponentChart
from promstack.config.cluster import ConfigError


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


def add_sealed_secret(chart: ComponentChart, id_: str, manifest: dict[str, Any]) -> SealedSecret:
    """Render the SealedSecret unchanged but for labels: the name, namespace and scope annotations
    are part of what the controller decrypts against, so they are copied as they are."""
    meta, spec = manifest["metadata"], manifest["spec"]
    annotations = meta.get("annotations") or None
    template_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta["namespace"], "labels": chart.labels}
    if annotations:
        template_meta["annotations"] = annotations
    return SealedSecret(
        chart, id_,
        metadata=ApiObjectMetadata(name=meta["name"], namespace=meta["namespace"], labels=chart.labels,
                                   annotations=annotations),
        spec=SealedSecretSpec(
            encrypted_data=dict(sorted(spec["encryptedData"].items())),
            template=SealedSecretSpecTemplate(type=spec.get("template", {}).get("type", "Opaque"),
                                              metadata=template_meta),
        ),
    )
