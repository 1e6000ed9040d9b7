"""Grafana's admin login: sealed in the cluster folder, or a Secret made by hand; never a default."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from conftest import CLUSTERS
from promstack.certs.sealing import dump_manifest, sealed_secret_manifest
from promstack.config.cluster import load_cluster
from promstack.config.inputs import load_grafana_admin, load_inputs
from promstack.config.model import ConfigError


def test_a_cluster_without_the_sealed_admin_secret_is_an_error_naming_both_fixes(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "fresh"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("adapter: {tls: {mode: self-signed}}\nnamespace: metrics\n")
    with pytest.raises(ConfigError) as caught:
        load_inputs(load_cluster(folder))
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'grafana-admin.sealedsecret.yaml'}: (file): missing; ")
    assert "`promstack seal --cluster fresh --name grafana-admin --from-file admin-password=<file>`" in problem
    assert "set grafana.adminSecret: existing" in problem
    assert ("`kubectl -n metrics create secret generic grafana-admin --from-literal=admin-user=admin "
            "--from-literal=admin-password=\"$(openssl rand -base64 24)\"`") in problem


def test_existing_admin_secret_with_a_sealed_file_beside_it_is_ambiguous(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    (folder / "cluster.yaml").write_text("grafana: {adminSecret: existing}\n")
    with pytest.raises(ConfigError, match=re.escape("grafana.adminSecret is existing, so this sealed admin Secret "
                                                    "would never be used; remove the file or set "
                                                    "grafana.adminSecret: sealed")):
        load_grafana_admin(load_cluster(folder))


def test_the_shipped_clusters_choose_explicitly() -> None:
    assert load_grafana_admin(load_cluster(CLUSTERS / "demo")) is None
    sealed = load_grafana_admin(load_cluster(CLUSTERS / "prod-example"))
    assert sealed is not None and "admin-password" in sealed["spec"]["encryptedData"]


@pytest.mark.parametrize(("password", "held"), [(b"", "0 bytes"), (b"admin", "5 bytes")])
def test_an_empty_or_short_sealed_password_is_refused_without_unsealing_it(tmp_path: Path, password: bytes,
                                                                          held: str) -> None:
    """Grafana reads an empty admin_password as unset and falls back to admin: the sealed value's
    length shows through its ciphertext, so synth refuses it."""
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    cert = x509.load_pem_x509_certificate((folder / "sealing-cert.pem").read_bytes())
    manifest = sealed_secret_manifest(cert, name="grafana-admin", namespace="monitoring",
                                      data={"admin-password": password})
    (folder / "grafana-admin.sealedsecret.yaml").write_bytes(dump_manifest(manifest, generated_by="test"))
    with pytest.raises(ConfigError) as caught:
        load_grafana_admin(load_cluster(folder))
    [problem] = caught.value.problems
    assert f"spec.encryptedData.admin-password: holds {held}; Grafana would fall back" in problem
    long_enough = sealed_secret_manifest(cert, name="grafana-admin", namespace="monitoring",
                                         data={"admin-password": b"x" * 12})
    (folder / "grafana-admin.sealedsecret.yaml").write_bytes(dump_manifest(long_enough, generated_by="test"))
    assert load_grafana_admin(load_cluster(folder)) is not None
