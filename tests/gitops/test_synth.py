"""Synthesis: worker processes write the same bytes as in-process and errors still name their cause;
the synth commands swap dist/ only after a whole successful run, one run at a time."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import CLUSTERS, ROOT, read_tree
from promstack.cli import build_parser, main
from promstack.config.model import ConfigError
from promstack.gitops.incremental import exclusive
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


# ---------------------------------------------------------------------------------------------
# The synth commands (`cdk8s synth`, `make synth`, `promstack synth`) in a copy of the project.

BOOTSTRAPPED = ("-o", ".venv/.installed", "-o", "node_modules/.installed")  # make: use the tools as they are
BROKEN = "prometheus:\n  retention: 2 weeks\n"
BROKEN_LINE = ("promstack: error: clusters/broken/cluster.yaml: prometheus.retention: '2 weeks' is not a Prometheus "
               "duration")


def copy_project(dest: Path, *files: str) -> Path:
    """What a clone holds for a synth, with this tree's bootstrapped .venv and node_modules by path."""
    dest.mkdir()
    for name in ("Makefile", "cdk8s.yaml", "main.py", "pyproject.toml", *files):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("clusters", "dist"):
        shutil.copytree(ROOT / folder, dest / folder)
    for tool in (".venv", "node_modules"):
        (dest / tool).symlink_to(ROOT / tool)
    return dest


def user_env(**extra: str) -> dict[str, str]:
    """This environment as a user's shell has it: not that of a make recipe (`make test` runs us)."""
    return {**{k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}, **extra}


def plain_env() -> dict[str, str]:
    """The environment of a CI job that runs node_modules/.bin/cdk8s by path: the system Node
    (20 here) first on PATH, nothing of the project's; only the upgrade check switched off."""
    ours = {str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin")}
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p not in ours)
    env = {k: v for k, v in user_env().items() if k not in {"JSII_NODE", "CDK8S_OUTDIR", "VIRTUAL_ENV"}}
    return {**env, "PATH": path, "CDK8S_CHECK_UPGRADE": "false"}


def scratch_left(project: Path) -> list[str]:
    """What a finished synth left under .build/ besides its lock file and its cache."""
    return sorted(p.name for p in (project / ".build").iterdir() if p.name not in {"synth.lock", "cache"})


def test_plain_cdk8s_synth_renders_the_committed_dist_on_the_pinned_node(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    shutil.rmtree(project / "dist" / "clusters" / "demo")  # a stale dist/: the swap replaces all of it
    (project / "dist" / "stale.yaml").write_text("kind: Stale\n")
    result = subprocess.run([str(project / "node_modules" / ".bin" / "cdk8s"), "synth"], cwd=project,
                            env=plain_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert read_tree(project / "dist") == read_tree(ROOT / "dist")  # byte-identical to the committed render
    assert "end-of-life" not in result.stderr  # jsii ran on node_modules' Node 22, not the system Node 20
    assert "A new version" not in result.stderr and "http error" not in result.stderr  # no upgrade check
    assert "promstack: synthesized 3 cluster(s) into dist/: demo, keda-example, prod-example" in result.stderr
    assert "  - .build/cdk8s/clusters/demo/prometheus.yaml" in result.stdout  # the CLI lists its scratch copy
    assert scratch_left(project) == ["cdk8s"]


def test_plain_cdk8s_synth_with_a_broken_cluster_leaves_dist_as_it_was(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "clusters" / "broken").mkdir()
    (project / "clusters" / "broken" / "cluster.yaml").write_text(BROKEN)
    (project / "dist" / "keep.yaml").write_text("kind: Previous\n")
    before = read_tree(project / "dist")
    result = subprocess.run([str(project / "node_modules" / ".bin" / "cdk8s"), "synth"], cwd=project,
                            env=plain_env(), capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert BROKEN_LINE in result.stderr
    assert read_tree(project / "dist") == before
    assert scratch_left(project) == []


def test_make_synth_shows_promstack_lines_only_and_promstack_synth_the_same(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    make = ["make", "--no-print-directory", *BOOTSTRAPPED, "synth"]
    done = subprocess.run(make, cwd=project, env=user_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (done.stdout + done.stderr).splitlines() == [
        "promstack: warning: cluster demo: adapter.tls.mode self-signed makes the API server skip TLS "
        "verification of the adapter (insecureSkipTLSVerify); use sealed or cert-manager",
        "promstack: warning: cluster demo: prometheus.exposure.auth none: prometheus is reachable from outside the "
        "cluster (type nodePort) with no login; seal basic auth with `promstack seal-web-auth` and drop auth: none",
        "promstack: warning: cluster demo: grafana.exposure.type nodePort: its login crosses the network in plain "
        "HTTP; use type ingress or gateway, with TLS",
        "promstack: warning: cluster demo: alerts go nowhere: no alertmanager.receivers, or no "
        "alertmanager.routing.critical/warning receiver; see the README's \"Alerts that reach people\"",
        "promstack: warning: cluster keda-example: alerts go nowhere: no alertmanager.receivers, or no "
        "alertmanager.routing.critical/warning receiver; see the README's \"Alerts that reach people\"",
        "promstack: synthesized 3 cluster(s) into dist/: demo, keda-example, prod-example",
    ]  # no recipe lines, no CLI listing
    (project / "clusters" / "broken").mkdir()
    (project / "clusters" / "broken" / "cluster.yaml").write_text(BROKEN)
    failed = subprocess.run(make, cwd=project, env=user_env(), capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    lines = [line for line in (failed.stdout + failed.stderr).splitlines() if not line.startswith("make: *** ")]
    assert lines and lines[0].startswith(BROKEN_LINE)  # no Node stack trace either
    assert len(lines) == 1, lines
    same = subprocess.run([str(project / ".venv" / "bin" / "promstack"), "synth"], cwd=project,
                          capture_output=True, text=True, check=False)
    assert (same.returncode, same.stderr.splitlines()) == (2, lines)
    assert read_tree(project / "dist") == read_tree(ROOT / "dist")


def test_make_synth_shows_a_python_crash_and_leaves_dist_as_it_was(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import promstack.gitops.synth as synth\n\n"
        "def crash(*args, **kwargs):\n    raise RuntimeError('injected crash inside synth')\n\n"
        "synth.render_clusters = crash\n"
    )
    (project / "dist" / "keep.yaml").write_text("kind: Previous\n")
    before = read_tree(project / "dist")
    result = subprocess.run(["make", *BOOTSTRAPPED, "synth"], cwd=project, capture_output=True, text=True,
                            check=False, env=user_env(PYTHONPATH=str(inject)))
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback (most recent call last):" in out and "RuntimeError: injected crash inside synth" in out
    assert "at ChildProcess" not in out  # the CLI's Node stack trace is not shown
    assert read_tree(project / "dist") == before
    assert scratch_left(project) == []


def test_concurrent_synths_take_turns_each_in_its_own_folder(tmp_path: Path) -> None:
    """Two synths (main.py, as cdk8s runs it) while a third party holds the lock: both wait, then
    both finish and leave the render in dist/ and nothing else under .build/."""
    project = copy_project(tmp_path / "project")
    (project / "dist" / "stale.yaml").write_text("kind: Stale\n")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with exclusive(project / ".build" / "synth.lock"):
        runs = [subprocess.Popen([str(project / ".venv" / "bin" / "python"), "main.py"], cwd=project,
                                 stderr=log.open("w")) for log in logs]
        deadline = time.monotonic() + 120
        while not all("waiting for it to finish" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            assert all(run.poll() is None for run in runs)
            time.sleep(0.2)
        assert (project / "dist" / "stale.yaml").exists()  # nothing swapped while they wait
    assert [run.wait(timeout=120) for run in runs] == [0, 0], [log.read_text() for log in logs]
    assert read_tree(project / "dist") == read_tree(ROOT / "dist")
    assert scratch_left(project) == []


def test_adding_and_removing_a_cluster_the_readme_way_needs_no_other_step(tmp_path: Path) -> None:
    """README's "Adding a cluster": mkdir, cluster.yaml, `make synth`, `make test`. Here `make test`
    is its part that reads dist/: `promstack validate dist` and the snapshot and drift tests. Every
    other test reads a fresh render of clusters/ (conftest's out_dir) or fixtures of its own, never
    dist/, so what they say of a new cluster depends on the cluster, not on a step after `make synth`.
    Then `rm -r` of the folder and `make synth` alone give back exactly the committed dist/ (which
    this suite's own run checks)."""
    project = copy_project(tmp_path / "project", "tests/conftest.py", "tests/test_snapshots.py", "tests/test_drift.py")
    promstack = str(project / ".venv" / "bin" / "promstack")
    (project / "clusters" / "edge").mkdir()
    (project / "clusters" / "edge" / "cluster.yaml").write_text(
        "# yaml-language-server: $schema=../../schema/cluster.schema.json\ngrafana: {adminSecret: existing}\n"
    )
    # README step 3, sealed for the example controller certificate committed beside prod-example.
    for step in (["certs", "issue", "--cluster", "edge", "--sealing-cert", "clusters/prod-example/sealing-cert.pem"],
                 ["certs", "check"]):
        done = subprocess.run([promstack, *step], cwd=project, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    def make_synth(clusters: str) -> None:
        synth = subprocess.run(["make", "-s", *BOOTSTRAPPED, "synth"], cwd=project, env=user_env(),
                               capture_output=True, text=True, check=False)
        assert synth.returncode == 0, synth.stdout + synth.stderr
        assert f"promstack: synthesized {clusters}" in synth.stdout + synth.stderr

    make_synth("4 cluster(s) into dist/: demo, edge, keda-example, prod-example")
    assert (project / "dist" / "clusters" / "edge" / "prometheus.yaml").is_file()
    assert "dist/clusters/edge" in (project / "dist" / "bootstrap" / "flux" / "promstack.yaml").read_text()
    validate = [promstack, "validate", "dist", *([] if shutil.which("promtool") else ["--skip-promtool"])]
    checked = subprocess.run(validate, cwd=project, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_snapshots.py",
                            "tests/test_drift.py::test_dist_holds_exactly_the_rendered_files"],
                           cwd=project, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout
    rendered = len(read_tree(project / "dist"))  # one snapshot test per rendered file, edge's included
    assert f"{rendered + 1} passed" in tests.stdout, "every rendered file and the drift test"

    shutil.rmtree(project / "clusters" / "edge")
    make_synth("3 cluster(s) into dist/: demo, keda-example, prod-example")
    assert read_tree(project / "dist") == read_tree(ROOT / "dist")


def test_promstack_synth_swaps_in_process_and_exits_2_on_bad_input(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(CLUSTERS, tmp_path / "clusters")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "stale.yaml").write_text("kind: Stale\n")
    assert main(["synth", "--clusters-dir", str(tmp_path / "clusters")]) == 0
    assert read_tree(tmp_path / "dist") == read_tree(ROOT / "dist")
    (tmp_path / "clusters" / "broken").mkdir()
    (tmp_path / "clusters" / "broken" / "cluster.yaml").write_text(BROKEN)
    capsys.readouterr()
    assert main(["synth", "--clusters-dir", str(tmp_path / "clusters")]) == 2
    assert ("broken/cluster.yaml: prometheus.retention: '2 weeks' is not a Prometheus duration"
            in capsys.readouterr().err)
    assert read_tree(tmp_path / "dist") == read_tree(ROOT / "dist")


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"promstack {version('promstack')}\n"


def test_every_subcommand_has_a_one_line_description() -> None:
    def subcommands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, str | None]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    yield f"{prefix}{name}", helps.get(name)
                    yield from subcommands(sub, f"{prefix}{name} ")

    found = dict(subcommands(build_parser(), ""))
    assert {"synth", "schema", "certs", "certs issue", "certs check", "seal", "diff", "validate"} <= set(found)
    assert not [name for name, text in found.items() if not text or "\n" in text], found


@pytest.mark.parametrize("target", ["missing-dir/schema.json", "/proc/version"])
def test_schema_to_an_unwritable_path_is_one_error_line(tmp_path: Path, target: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    output = str(tmp_path / target) if not target.startswith("/") else target
    assert main(["schema", "--output", output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("promstack: error: ") and "cannot write" in err
