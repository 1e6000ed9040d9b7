"""The synth cache's keys: a cluster's key moves with each of its inputs and with the code, and
with nothing else; a folder is current only as synth left it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import promstack
from conftest import CLUSTERS, ROOT
from promstack.gitops import cache


@pytest.fixture
def clusters(tmp_path: Path) -> Path:
    shutil.copytree(CLUSTERS, tmp_path / "clusters")
    return tmp_path / "clusters"


def all_keys(clusters: Path) -> dict[str, str]:
    keys = cache.Keys(clusters)
    found = {name: keys.cluster(clusters / name) for name in ("demo", "prod-example")}
    found[cache.BOOTSTRAP] = keys.bootstrap(["demo", "prod-example"])
    return found


@pytest.mark.parametrize(("edit", "changed"), [
    ("demo/cluster.yaml", {"demo"}),
    ("prod-example/rules/new.rules.yaml", {"prod-example"}),  # any file of the folder, nested too
    ("_shared/dashboards/team.json", {"demo", "prod-example"}),
    ("fleet.yaml", {"demo", "prod-example", cache.BOOTSTRAP}),
])
def test_each_input_moves_the_keys_of_what_it_feeds(clusters: Path, edit: str, changed: set[str]) -> None:
    before = all_keys(clusters)
    file = clusters / edit
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a") as handle:
        handle.write("# changed\n")
    after = all_keys(clusters)
    assert {name for name in before if before[name] != after[name]} == changed
    assert all_keys(clusters) == after  # and nothing else: the same inputs give the same keys


def test_the_cluster_set_moves_only_the_bootstrap_key(clusters: Path) -> None:
    keys = cache.Keys(clusters)
    assert keys.bootstrap(["demo"]) != keys.bootstrap(["demo", "prod-example"])


def test_the_code_key_covers_the_package_source_and_the_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(Path(promstack.__file__).parent, project / "constructs" / "promstack",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "requirements.txt", "package-lock.json"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "crds", project / "crds")
    monkeypatch.setattr(promstack, "__file__", str(project / "constructs" / "promstack" / "__init__.py"))

    def key() -> str:
        cache.code_key.cache_clear()
        return cache.code_key()

    try:
        seen = [key()]
        for edit in ("constructs/promstack/gitops/synth.py", "requirements.txt", "package-lock.json",
                     "crds/SOURCES.md"):
            with (project / edit).open("a") as handle:
                handle.write("\n")
            seen.append(key())
        assert len(set(seen)) == len(seen), "every edit gives a new key"
        assert key() == seen[-1]
    finally:
        cache.code_key.cache_clear()


def test_a_folder_is_current_only_as_synth_left_it(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    (folder / "apiservice").mkdir(parents=True)
    (folder / "prometheus.yaml").write_text("kind: ConfigMap\n")
    entry = cache.Entry("k", cache.snapshot(folder))
    assert cache.current(entry, "k", folder)
    assert not cache.current(entry, "other key", folder)
    (folder / "apiservice" / "extra.yaml").write_text("kind: Extra\n")
    assert not cache.current(entry, "k", folder)
    (folder / "apiservice" / "extra.yaml").unlink()
    entry = cache.Entry("k", cache.snapshot(folder))
    time.sleep(0.05)  # past the file system's timestamp granularity (a few ms), as any edit by hand is
    (folder / "prometheus.yaml").write_text("kind: Secret\n")  # same size, rewritten in place
    assert not cache.current(entry, "k", folder)
    assert not cache.current(None, "k", folder)
