"""images: per-component overrides, digests and registry mirrors, as the container runtime reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from promstack.config import imageref, versions
from promstack.config.cluster import load_cluster
from promstack.config.fleet import load_fleet
from promstack.config.model import ConfigError
from promstack.gitops.synth import synth

DIGEST = "sha256:" + "0123456789abcdef" * 4
MIRROR = "mirror.internal.example/proxy"


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("quay.io/prometheus/prometheus", "mirror.internal.example/proxy/prometheus/prometheus"),
        ("registry.k8s.io/kube-state-metrics/kube-state-metrics",
         "mirror.internal.example/proxy/kube-state-metrics/kube-state-metrics"),
        # Docker Hub: explicit, implicit, and single names (library/).
        ("docker.io/grafana/grafana", "mirror.internal.example/proxy/grafana/grafana"),
        ("grafana/grafana", "mirror.internal.example/proxy/grafana/grafana"),
        ("busybox", "mirror.internal.example/proxy/library/busybox"),
        ("docker.io/busybox", "mirror.internal.example/proxy/library/busybox"),
        ("index.docker.io/library/busybox", "mirror.internal.example/proxy/library/busybox"),
        # A host is a first part with '.' or ':', or localhost.
        ("localhost/team/app", "mirror.internal.example/proxy/team/app"),
        ("registry:5000/team/app", "mirror.internal.example/proxy/team/app"),
    ],
)
def test_a_mirror_replaces_the_registry_and_keeps_the_path(repository: str, expected: str) -> None:
    assert imageref.mirrored(repository, MIRROR) == expected


def write_cluster(clusters: Path, name: str, spec: dict[str, Any]) -> Path:
    folder = clusters / name
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text(yaml.safe_dump({"adapter": {"tls": {"mode": "self-signed"}},
                                                         "grafana": {"adminSecret": "existing"}, **spec}))
    return folder


def images(out: Path, cluster: str) -> dict[str, str]:
    """Container name -> image of every pod template in the cluster's rendered folder."""
    found = {}
    for path in sorted((out / "clusters" / cluster).rglob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            pod = (obj or {}).get("spec", {}).get("template", {}).get("spec", {})
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                found[c["name"]] = c["image"]
    return found


def test_overrides_digests_and_mirrors_reach_the_rendered_images(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters"
    write_cluster(clusters, "plain", {})
    write_cluster(clusters, "pinned", {
        "exampleApp": {"enabled": True},
        "images": {
            "registryMirror": "localhost:5000",
            "grafana": {"tag": "13.1.4", "digest": DIGEST},
            "prometheus": {"repository": "example.invalid/prometheus"},
            "configReloader": {"digest": DIGEST},
        },
    })
    (clusters / "fleet.yaml").write_text(f"repoURL: https://git.example.com/p.git\nregistryMirror: {MIRROR}\n")
    out = tmp_path / "out"
    synth(clusters, out)

    plain = images(out, "plain")
    assert plain["grafana"] == f"{MIRROR}/grafana/grafana:{versions.GRAFANA.tag}"
    assert plain["prometheus"] == f"{MIRROR}/prometheus/prometheus:{versions.PROMETHEUS.tag}"
    assert all(image.startswith(MIRROR + "/") for image in plain.values()), plain

    pinned = images(out, "pinned")  # the cluster's own mirror wins over the fleet's
    assert pinned["grafana"] == f"localhost:5000/grafana/grafana:13.1.4@{DIGEST}"
    assert pinned["prometheus"] == f"localhost:5000/prometheus:{versions.PROMETHEUS.tag}"
    assert pinned["config-reloader"] == (f"localhost:5000/prometheus-operator/prometheus-config-reloader:"
                                         f"{versions.CONFIG_RELOADER.tag}@{DIGEST}")
    assert pinned["podinfo"] == f"localhost:5000/stefanprodan/podinfo:{versions.PODINFO.tag}"
    assert all(image.startswith("localhost:5000/") for image in pinned.values()), pinned
    grafana = yaml.safe_load((out / "clusters" / "pinned" / "grafana.yaml").read_text().split("\n---\n")[0])
    assert grafana["metadata"]["labels"]["app.kubernetes.io/version"] == "13.1.4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("images:\n  grafana:\n    digest: sha256:abc\n",
         "images.grafana.digest: 'sha256:abc' is not an image digest; write sha256: and the 64 lowercase hex "
         "digits the registry reports for the image"),
        (f"images:\n  grafana:\n    digest: {DIGEST.upper()}\n", "images.grafana.digest: 'SHA256:0123"),
        ("images:\n  grafana:\n    digest: md5:0123456789abcdef0123456789abcdef\n",
         "images.grafana.digest: 'md5:0123456789abcdef0123456789abcdef' is not an image digest"),
        ("images:\n  prometheus:\n    repository: quay.io/Prometheus/prometheus\n",
         "images.prometheus.repository: 'quay.io/Prometheus/prometheus' is not an image repository; write "
         "[registry/]path in lowercase"),
        ("images:\n  prometheus:\n    repository: quay.io/prometheus/prometheus:v3\n",
         "images.prometheus.repository: 'quay.io/prometheus/prometheus:v3' is not an image repository"),
        ("images:\n  prometheus:\n    tag: v3.14.0@sha256\n",
         "images.prometheus.tag: 'v3.14.0@sha256' is not an image tag"),
        ("images:\n  grafna:\n    tag: '13'\n", "images.grafna: unknown key"),
        ("images:\n  registryMirror: mirror\n",
         "images.registryMirror: 'mirror' is not a registry mirror; write host[:port][/path]"),
        ("images:\n  registryMirror: https://mirror.example/proxy\n",
         "images.registryMirror: 'https://mirror.example/proxy' is not a registry mirror"),
    ],
)
def test_bad_image_settings_are_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "cluster.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'cluster.yaml'}: {expected}"), problem


def test_a_bad_fleet_mirror_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text("repoURL: https://git.example.com/p.git\nregistryMirror: mirror.example/\n")
    with pytest.raises(ConfigError) as caught:
        load_fleet(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'fleet.yaml'}: registryMirror: 'mirror.example/' is not a registry mirror; write "
        "host[:port][/path] with a host name holding a '.' (or localhost), e.g. mirror.internal.example/proxy"
    ]
