"""`promstack validate`: arguments, output formats, exit codes, units, ordering."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from promstack.validate.cli import main, register
from promstack.validate.findings import Finding, format_path
from promstack.validate.loader import load_units
from promstack.validate.report import format_line, ordered

FIX = Path(__file__).parent / "fixtures"


def test_clean_input_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIX / "good"), "--skip-promtool"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "0 finding(s) in 21 object(s), 1 unit(s), Kubernetes 1.27-1.37" in err


def test_findings_exit_1_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    name = FIX / "policy-rbac-wildcard"
    assert main([str(name), "--skip-promtool"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{name}/manifests.yaml: Role/demo/web: rules[0].resources[0]: wildcard resource '*': list what is needed",
        f"{name}/manifests.yaml: Role/demo/web: rules[0].verbs[1]: wildcard verb '*': list what is needed",
    ]


def test_cluster_scoped_objects_print_an_empty_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIX / "wiring-apiservice-missing"), "--skip-promtool"]) == 1
    assert (
        "APIService//v1beta1.custom.metrics.k8s.io: spec.service: Service demo/web not found" in capsys.readouterr().out
    )


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIX / "wiring-hpa-target"), "--skip-promtool", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {
            "file": str(FIX / "wiring-hpa-target" / "manifests.yaml"),
            "kind": "HorizontalPodAutoscaler",
            "namespace": "demo",
            "name": "web",
            "path": "spec.scaleTargetRef",
            "message": "scale target Deployment/web not found in namespace 'demo'",
            "check": "wiring",
        }
    ]


def test_bad_yaml_exits_2_with_file_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIX / "schema-bad-yaml"), "--skip-promtool"]) == 2
    err = capsys.readouterr().err
    assert f"{FIX / 'schema-bad-yaml' / 'manifests.yaml'}:5:13: invalid YAML: mapping values are not allowed" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/dist"], "/nonexistent/dist: no such file or folder"),
        (
            [str(FIX / "good"), "--k8s-version", "1.20"],
            "unsupported Kubernetes version '1.20': supported are 1.27 to 1.37",
        ),
        ([str(FIX / "good"), "--promtool", "/nonexistent/promtool"], "install Debian's 'prometheus' package"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    skip = [] if "--promtool" in args else ["--skip-promtool"]
    assert main([*args, *skip]) == 2
    assert message in capsys.readouterr().err


def test_default_path_is_dist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--skip-promtool"]) == 2
    assert "dist: no such file or folder" in capsys.readouterr().err


def test_allow_kind_and_k8s_version_options(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIX / "schema-unknown-kind")
    assert main([path, "--skip-promtool", "--allow-kind", "monitoring.coreos.com/v1/ServiceMonitor"]) == 0
    assert (
        main([str(FIX / "schema-not-served"), "--skip-promtool", "--k8s-version", "1.29", "--k8s-version", "1.37"]) == 0
    )
    assert "Kubernetes 1.29, 1.37" in capsys.readouterr().err


def test_register_adds_the_subcommand_to_the_promstack_parser() -> None:
    parser = argparse.ArgumentParser(prog="promstack")
    subparsers = parser.add_subparsers(dest="command")
    register(subparsers)
    args = parser.parse_args(["validate", "--k8s-version", "1.30", "--tracked", "--format", "json"])
    assert args.command == "validate"
    assert args.paths == [] and args.k8s_versions == ["1.30"] and args.tracked == "." and args.format == "json"
    assert args.func(parser.parse_args(["validate", str(FIX / "good"), "--skip-promtool"])) == 0


def test_units_follow_the_clusters_layout() -> None:
    units = load_units([FIX / "wiring-units"])
    assert [u.name for u in units] == [str(FIX / "wiring-units" / "clusters" / c) for c in ("alpha", "beta")]
    assert [u.name for u in load_units([FIX / "good"])] == [str(FIX / "good")]
    loose = load_units([FIX / "good" / "web.yaml", FIX / "good" / "namespace.yaml"])
    assert [u.name for u in loose] == ["<files>"]


def test_order_is_by_file_object_and_natural_path() -> None:
    def f(path: str, file: str = "a.yaml", name: str = "x") -> Finding:
        return Finding(file, "Deployment", "demo", name, path, "m", "policy")

    shuffled = [f("c[10]"), f("c[2]"), f("c[2]"), f("a", name="y"), f("z", file="0.yaml")]
    assert ordered(shuffled) == [f("z", file="0.yaml"), f("c[2]"), f("c[10]"), f("a", name="y")]


def test_paths_and_file_level_lines() -> None:
    assert format_path(["metadata", "labels", "app.kubernetes.io/name"]) == 'metadata.labels["app.kubernetes.io/name"]'
    assert format_path(["spec", "ports", 0, "targetPort"]) == "spec.ports[0].targetPort"
    assert format_path([]) == "."
    assert (
        format_line(Finding("k.yaml", "", "", "", "line 3", "private key material", "policy"))
        == "k.yaml: line 3: private key material"
    )
