"""clusters/fleet.yaml: defaults, the shipped file, and one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CLUSTERS
from promstack.config.fleet import FleetConfig, load_fleet
from promstack.config.model import ConfigError

REPO = "https://git.example.com/platform/promstack.git"


def write_fleet(tmp_path: Path, text: str) -> Path:
    (tmp_path / "fleet.yaml").write_text(text)
    return tmp_path


def test_shipped_fleet_loads() -> None:
    fleet = load_fleet(CLUSTERS)
    assert fleet.repo_url == REPO
    assert fleet.path == "dist/clusters"


def test_defaults(tmp_path: Path) -> None:
    fleet = load_fleet(write_fleet(tmp_path, f"repoURL: {REPO}\n"))
    assert (fleet.revision, fleet.path) == ("main", "dist/clusters")
    assert fleet.argocd.mode == "applicationset"
    assert fleet.argocd.destination("a") == {"server": "https://kubernetes.default.svc"}
    assert (fleet.flux.namespace, fleet.flux.source_name, fleet.flux.interval) == ("flux-system", "promstack", "5m")
    assert isinstance(fleet, FleetConfig)


@pytest.mark.parametrize("url", [REPO, "ssh://git@git.example.com/platform/promstack.git",
                                 "git@git.example.com:platform/promstack.git"])
def test_git_urls(tmp_path: Path, url: str) -> None:
    assert load_fleet(write_fleet(tmp_path, f"repoURL: '{url}'\n")).repo_url == url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("revision: main\n", "repoURL: required here; add it"),
        ("repoURL: git.example.com/x\n", "repoURL: 'git.example.com/x' is not a git URL; write https://"),
        (f"repoURL: {REPO}\nrepoUrl: x\n", "repoUrl: unknown key; remove it or check its spelling"),
        (f"repoURL: {REPO}\npath: /dist/clusters\n", "path: '/dist/clusters' is not a folder of the repository"),
        (f"repoURL: {REPO}\npath: dist/../x\n", "path: 'dist/../x' is not a folder of the repository"),
        (f"repoURL: {REPO}\nargocd:\n  mode: app\n", "argocd.mode: must be 'applicationset' or 'applications'"),
        (f"repoURL: {REPO}\nargocd:\n  destinationServer: https://k\n  destinationName: x\n",
         "argocd: destinationServer and destinationName are both set; keep one"),
        (f"repoURL: {REPO}\nargocd:\n  namespace: Argo\n", "argocd.namespace: 'Argo' is not a valid name"),
        (f"repoURL: {REPO}\nflux:\n  interval: 1d\n", "flux.interval: '1d' is not a Go duration"),
        (f"repoURL: {REPO}\nflux:\n  enabled: 'yes'\n", "flux.enabled: must be a valid boolean"),
        (f"repoURL: {REPO}\nrevision: a\nrevision: b\n", "line 3: not valid YAML: duplicate key 'revision'"),
        ("", "(top level): must be a mapping with at least repoURL, got nothing"),
    ],
)
def test_errors_name_file_field_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_fleet(write_fleet(tmp_path, text))
    file = tmp_path / "fleet.yaml"
    assert any(p.startswith(f"{file}: ") and expected in p for p in err.value.problems), err.value.problems


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fleet.yaml: \(file\): missing; create it with at least repoURL"):
        load_fleet(tmp_path)


def test_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_fleet(write_fleet(tmp_path, "repoURL: nope\nflux:\n  timeout: soon\n"))
    assert len(err.value.problems) == 2
