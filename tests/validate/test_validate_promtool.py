"""promtool on rendered Prometheus configuration and rules (needs Debian's prometheus package)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from promstack.validate import Finding, UsageError, validate_paths
from promstack.validate.promtool import _rewrite, find_promtool, knows_kubernetes_sd

FIX = Path(__file__).parent / "fixtures"


def run(name: str) -> list[Finding]:
    return validate_paths([FIX / name])


def promtool(name: str, obj: str, key: str, message: str) -> Finding:
    return Finding(str(FIX / name / "manifests.yaml"), "ConfigMap", "demo", obj, f'data["{key}"]', message, "promtool")


def test_good_config_and_rules_pass() -> None:
    assert run("promtool-good") == []


def test_bad_config_is_reported_by_promtool() -> None:
    assert run("promtool-bad-config") == [
        promtool(
            "promtool-bad-config",
            "prometheus",
            "prometheus.yml",
            "promtool check config: parsing YAML file prometheus.yml: "
            "error parsing regexp: missing closing ): `^(?:(web)$`",
        ),
    ]


def test_bad_rules_are_reported_by_promtool_once() -> None:
    assert run("promtool-bad-rules") == [
        promtool(
            "promtool-bad-rules",
            "prometheus-rules",
            "web.rules.yaml",
            'promtool check rules: web.rules.yaml: 7:15: group "web", rule 2, "WebDown": could not parse expression: '
            "1:25: parse error: unexpected end of input",
        ),
    ]


def test_rule_files_must_be_mounted() -> None:
    assert run("promtool-unmounted-rules") == [
        promtool(
            "promtool-unmounted-rules",
            "prometheus",
            "prometheus.yml",
            "rule_files entry '/etc/prometheus/rules/*.rules.yaml' matches no file mounted in container "
            "'prometheus' of Deployment/demo/prometheus",
        ),
    ]


def test_files_the_config_reads_must_be_mounted() -> None:
    """automountServiceAccountToken: false leaves the token file that the kubelet job reads missing."""
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert run("promtool-no-token") == [
        promtool(
            "promtool-no-token",
            "prometheus",
            "prometheus.yml",
            f'promtool check config: error checking authorization credentials or bearer token file "{token}": '
            f"stat {token}: no such file or directory",
        ),
    ]


def test_kubernetes_sd_is_checked_even_without_promtool_support() -> None:
    found = run("promtool-kubernetes-sd")
    assert len(found) == 1
    if knows_kubernetes_sd(find_promtool()):
        assert "nodes" in found[0].message
    else:
        assert found[0] == promtool(
            "promtool-kubernetes-sd",
            "prometheus",
            "prometheus.yml",
            "scrape_configs[0].kubernetes_sd_configs[0].role: "
            "'nodes' is not one of endpoints, endpointslice, ingress, node, pod, service",
        )


def test_missing_promtool_is_a_usage_error_naming_the_package() -> None:
    with pytest.raises(UsageError, match="install Debian's 'prometheus' package"):
        validate_paths([FIX / "promtool-good"], promtool_binary="/nonexistent/promtool")
    assert validate_paths([FIX / "promtool-good"], run_promtool=False, promtool_binary="/nonexistent/promtool") == []


def test_rewrite_moves_paths_and_keeps_line_numbers() -> None:
    text = (
        "rule_files:\n  - /etc/rules/*.yaml\nscrape_configs:\n  - job_name: a\n"
        "    authorization:\n      credentials_file: /var/token\n    kubernetes_sd_configs:\n      - role: pod\n"
        "    file_sd_configs:\n      - files: [/etc/sd/*.json, relative.json]\n"
    )
    out = _rewrite(text, "/ROOT", blank_k8s_sd=True)
    assert out.rule_globs == ["/etc/rules/*.yaml"]
    assert out.k8s_sd == [("scrape_configs[0].kubernetes_sd_configs", [{"role": "pod"}])]
    assert out.text.count("\n") == text.count("\n")
    assert '"/ROOT/var/token"' in out.text and '"/ROOT/etc/sd/*.json"' in out.text and "relative.json" in out.text
    assert "rule_files" not in out.text and "kubernetes_sd_configs" not in out.text


# -- a fleet: promtool check config runs over many clusters' files at once --------------------------

FLEET_MIX = ["promtool-good", "promtool-bad-config", "promtool-good", "promtool-no-token", "promtool-good",
             "promtool-kubernetes-sd", "promtool-good", "promtool-bad-config", "promtool-unmounted-rules",
             "promtool-good"]


def promtool_fleet(root: Path) -> Path:
    """A dist/ whose clusters alternate good configurations with different mistakes."""
    for i, name in enumerate(FLEET_MIX):
        folder = root / "dist" / "clusters" / f"c{i}"
        folder.mkdir(parents=True)
        (folder / "manifests.yaml").write_text((FIX / name / "manifests.yaml").read_text())
    return root / "dist"


def test_batched_promtool_runs_report_each_clusters_own_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked together (one promtool run for the fleet) or one cluster at a time, every cluster
    gets the findings of its own configuration, under its own file, and no other's."""
    from promstack.validate import gate
    from promstack.validate import promtool as module

    dist = promtool_fleet(tmp_path)
    monkeypatch.setattr(gate, "PARALLEL_FROM", 1000)  # one process: one batch holds every cluster
    batched = validate_paths([dist])
    monkeypatch.setattr(gate, "SHARE_UNITS", 1)
    monkeypatch.setattr(module, "BATCH", 1)
    alone = validate_paths([dist])
    assert batched == alone
    for i, name in enumerate(FLEET_MIX):
        file = str(dist / "clusters" / f"c{i}" / "manifests.yaml")
        mine = [f.message for f in batched if f.file == file]
        assert mine == [f.message for f in run(name)], name


def test_output_promtool_cannot_split_per_file_falls_back_to_one_run_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from promstack.validate import gate

    monkeypatch.setattr(gate, "PARALLEL_FROM", 1000)  # in this process, where the calls are counted
    dist = promtool_fleet(tmp_path)
    expected = validate_paths([dist])
    calls: list[int] = []
    real_run = subprocess.run

    def garbled(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done: subprocess.CompletedProcess[str] = real_run(command, **kwargs)
        if command[1:3] == ["check", "config"] and kwargs.get("stderr") is subprocess.STDOUT:
            calls.append(len(command))
            done.stdout = done.stdout.replace("Checking ", "Checking: ")  # no longer one section per file
        return done

    monkeypatch.setattr(subprocess, "run", garbled)
    assert validate_paths([dist]) == expected
    assert calls, "a batched run was tried"


def test_sections_need_a_verdict_per_file() -> None:
    from promstack.validate.promtool import _sections

    a, b = Path("/t/a.yml"), Path("/t/b.yml")
    ok = f"Checking {a}\n SUCCESS: {a} is valid prometheus config file syntax\n\n"
    bad = f"Checking {b}\n  FAILED: parsing YAML file {b}: boom\n\n"
    assert _sections(ok + bad, [a, b]) == [None, bad]
    assert _sections(bad.replace(str(b), str(a)) + ok.replace(str(a), str(b)), [a, b]) == [
        bad.replace(str(b), str(a)), None]
    assert _sections(f"Checking {a}\n\n" + bad, [a, b]) is None  # neither passed nor failed
    assert _sections("panic: oops\n" + ok + bad, [a, b]) is None
    assert _sections(ok, [a, b]) is None


@pytest.mark.parametrize("parallel_from", [1, 1000])
def test_a_fleet_leaves_no_file_system_replica_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    """The replicas promtool checks are removed by the gate's parent process, after the workers."""
    from promstack.validate import gate

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    made = tmp_path / "made.log"  # a file: forked workers make the replicas
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(suffix: str | None = None, prefix: str | None = None, dir: str | None = None) -> str:
        folder = real_mkdtemp(suffix, prefix, str(scratch))
        with made.open("a") as log:
            log.write(folder + "\n")
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(gate, "PARALLEL_FROM", parallel_from)
    assert validate_paths([promtool_fleet(tmp_path)])
    assert made.exists(), "no replica was made: the test checks nothing"
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "room", "chosen"),
    [({"TMPDIR": "/somewhere"}, 1, None), ({}, 1, "shm"), ({}, 10**15, None)],
    ids=["TMPDIR set: the default", "shm with room", "shm too small: the default"],
)
def test_replicas_go_to_memory_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], room: int, chosen: str | None
) -> None:
    from promstack.validate import promtool

    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(promtool, "SHM", str(tmp_path))
    monkeypatch.setattr(promtool, "SHM_FREE_BYTES", room)
    promtool.scratch_dir.cache_clear()
    try:
        assert promtool.scratch_dir() == (str(tmp_path) if chosen else None)
    finally:
        promtool.scratch_dir.cache_clear()
