"""Synthesis in worker processes: the same bytes as in-process, and errors that still name their cause."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import CLUSTERS, read_tree
from promstack.config.cluster import ConfigError
from promstack.gitops.synth import default_jobs, synth


def test_parallel_synth_writes_the_same_tree(out_dir: Path, tmp_path: Path) -> None:
    synth(CLUSTERS, tmp_path, jobs=2)
    assert read_tree(tmp_path) == read_tree(out_dir)


def test_a_build_error_in_a_worker_reaches_the_caller_with_its_problems(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters"
    shutil.copytree(CLUSTERS, clusters)
    (clusters / "unsealed").mkdir()
    (clusters / "unsealed" / "cluster.yaml").write_text("{}\n")  # sealed mode, no sealed input
    with pytest.raises(ConfigError) as caught:
        synth(clusters, tmp_path / "out", jobs=2)
    assert any("unsealed/adapter-serving-certs.sealedsecret.yaml: (file): missing" in p
               for p in caught.value.problems)


def test_a_fleet_uses_every_core_and_a_few_clusters_one_process() -> None:
    assert default_jobs(2) == 1
    assert default_jobs(100) == min(os.cpu_count() or 1, 4)
