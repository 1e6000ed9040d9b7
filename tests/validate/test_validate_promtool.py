"""promtool on rendered Prometheus configuration and rules (needs Debian's prometheus package)."""

from __future__ import annotations

from pathlib import Path

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
