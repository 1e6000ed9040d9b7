"""promstack.rules: configuration, rendering, PromQL validity, the metric catalog, and promtool.

The promtool unit tests feed synthetic series to the rendered rule files and show each alert firing
when it should and staying silent when it should not. promtool comes from Debian's ``prometheus``
package, which ``make test`` installs; without it these tests fail rather than skip, so a green run
always means the rules were checked.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from pydantic import ValidationError

from promstack.content.catalog import parse, unknown_metrics
from promstack.content.rules import (
    ALERTING_RULES_FILE,
    JOBS,
    RECORDING_RULES_FILE,
    AlertingRule,
    AlertsConfig,
    RecordingRule,
    alerting_groups,
    iter_rules,
    rule_files,
)

CFG = AlertsConfig()
RULES = [rule for _, _, rule in iter_rules(CFG)]
ALERTS = [rule for rule in RULES if isinstance(rule, AlertingRule)]
RECORDINGS = [rule for rule in RULES if isinstance(rule, RecordingRule)]


def _rule_id(rule: AlertingRule | RecordingRule) -> str:
    if isinstance(rule, AlertingRule):
        return f"{rule.alert}[{rule.severity}]"
    return rule.record


# --------------------------------------------------------------------------------------------
# AlertsConfig
# --------------------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    assert CFG.filesystem_free_percent_warning == 15
    assert CFG.filesystem_free_percent_critical == 5
    assert CFG.memory_available_percent == 10
    assert CFG.crashloop_restarts_per_15m == 3
    assert CFG.custom_metrics_apiservices == ("v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io")


def test_config_reads_camel_case_keys_and_is_frozen() -> None:
    cfg = AlertsConfig.model_validate(
        yaml.safe_load(
            "filesystemFreePercentWarning: 20\nmemoryFor: 30m\ncrashloopRestartsPer15m: 5\n"
            "customMetricsApiservices: [v1beta2.custom.metrics.k8s.io]\n"
        )
    )
    assert cfg.filesystem_free_percent_warning == 20
    assert cfg.memory_for == "30m"
    assert cfg.crashloop_restarts_per_15m == 5
    assert cfg.custom_metrics_apiservices == ("v1beta2.custom.metrics.k8s.io",)
    with pytest.raises(ValidationError):
        cfg.memory_for = "1h"  # type: ignore[misc]  # frozen: the assignment must fail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"memoryFor": "15 minutes"}, "is not a Prometheus duration"),
        (
            {"filesystemFreePercentCritical": 20},
            "filesystemFreePercentCritical must be below filesystemFreePercentWarning",
        ),
        ({"memoryAvailablePercent": 0}, "greater than 0"),
        ({"memoryAvailablePercent": 100}, "less than 100"),
        ({"crashloopRestartsPer15m": 0}, "greater than or equal to 1"),
        ({"memoryAvailabelPercent": 5}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_config_is_rejected_with_a_clear_message(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertsConfig.model_validate(data)


def test_thresholds_reach_the_rendered_rules() -> None:
    text = rule_files(AlertsConfig(filesystem_free_percent_warning=25, memory_available_percent=7.5))[
        ALERTING_RULES_FILE
    ]
    assert "* 100 < 25\n" in text
    assert "* 100 < 7.5\n" in text
    assert "less than 25% space left" in text


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def test_rule_files_are_the_two_files_prometheus_loads() -> None:
    files = rule_files(CFG)
    assert set(files) == {RECORDING_RULES_FILE, ALERTING_RULES_FILE}
    assert all(name.endswith(".rules.yaml") for name in files)


def test_rendering_is_deterministic() -> None:
    assert rule_files(CFG) == rule_files(AlertsConfig())


def test_rendered_yaml_holds_every_rule() -> None:
    files = rule_files(CFG)
    rendered: list[str] = []
    for name in (RECORDING_RULES_FILE, ALERTING_RULES_FILE):
        for group in yaml.safe_load(files[name])["groups"]:
            rendered.extend(rule.get("record") or rule["alert"] for rule in group["rules"])
    assert rendered == [rule.name for rule in RULES]


def test_job_names_are_parameters() -> None:
    jobs = {**JOBS, "node_exporter": "nodes", "kube_state_metrics": "ksm"}
    text = "".join(rule_files(CFG, jobs=jobs).values())
    assert 'job="nodes"' in text and 'job="ksm"' in text
    assert f'job="{JOBS["node_exporter"]}"' not in text


def test_a_missing_job_is_named() -> None:
    jobs = {key: value for key, value in JOBS.items() if key != "adapter"}
    with pytest.raises(KeyError, match="'adapter'"):
        rule_files(CFG, jobs=jobs)


# --------------------------------------------------------------------------------------------
# PromQL: every expression parses, reads only catalogued metrics and known jobs
# --------------------------------------------------------------------------------------------


def _job_matchers(expr: str) -> Iterator[str]:
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            for matcher in node.matchers.matchers:
                if matcher.name == "job" and matcher.op == promql_parser.MatchOp.Equal:
                    found.append(matcher.value)

    promql_parser.walk(parse(expr), visit)
    return iter(found)


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_rule_expression_parses(rule: AlertingRule | RecordingRule) -> None:
    try:
        parse(rule.expr)
    except ValueError as exc:
        pytest.fail(f"rule {_rule_id(rule)}: {exc}")


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_rule_reads_only_catalogued_metrics(rule: AlertingRule | RecordingRule) -> None:
    unknown = unknown_metrics(rule.expr)
    assert not unknown, f"rule {_rule_id(rule)} reads metrics no catalog lists: {sorted(unknown)}"


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_rule_selects_only_scrape_jobs_from_jobs(rule: AlertingRule | RecordingRule) -> None:
    stray = set(_job_matchers(rule.expr)) - set(JOBS.values())
    assert not stray, f"rule {_rule_id(rule)} selects jobs outside JOBS: {sorted(stray)}"


def test_the_catalog_check_catches_a_typo_in_a_rule() -> None:
    typo = AlertingRule("Typo", "node_memory_MemAvailabe_bytes < 1", "warning", "s", "d")
    assert unknown_metrics(typo.expr) == {"node_memory_MemAvailabe_bytes"}


@pytest.mark.parametrize("rule", ALERTS, ids=_rule_id)
def test_alert_is_documented(rule: AlertingRule) -> None:
    # Only the Watchdog heartbeat has severity none: it must never match a paging route.
    assert rule.severity in ("warning", "critical") or (rule.alert, rule.severity) == ("Watchdog", "none"), rule.alert
    assert rule.summary.endswith("."), f"{rule.alert}: summary should be one sentence"
    assert len(rule.description) > 40, f"{rule.alert}: description should say what it means"
    assert "runbook" not in rule.description.lower()


@pytest.mark.parametrize("rule", RECORDINGS, ids=_rule_id)
def test_recording_rule_follows_level_metric_operations(rule: RecordingRule) -> None:
    parts = rule.record.split(":")
    assert len(parts) == 3 and all(parts), f"{rule.record}: expected level:metric:operations"
    assert not parts[1].endswith("_total"), f"{rule.record}: drop _total from a rated counter"


def test_alert_names_are_unique_per_severity() -> None:
    keys = [(rule.alert, rule.severity) for rule in ALERTS]
    assert len(keys) == len(set(keys))


# --------------------------------------------------------------------------------------------
# promtool
# --------------------------------------------------------------------------------------------


def _promtool() -> str:
    """promtool's path; a missing promtool fails the calling test (never skips it)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: run `make test`, which installs Debian's `prometheus` package "
            "(it ships promtool) before running the tests"
        )
    return path


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    for name, text in rule_files(CFG).items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_check_rules(rules_dir: Path) -> None:
    result = _run("check", "rules", RECORDING_RULES_FILE, ALERTING_RULES_FILE, cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RECORDINGS)} rules found" in result.stdout
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_check_rules_fails_on_a_broken_rule(tmp_path: Path) -> None:
    broken = {"groups": [{"name": "broken", "rules": [{"alert": "Broken", "expr": "rate(up[5m]"}]}]}
    (tmp_path / "broken.rules.yaml").write_text(yaml.safe_dump(broken))
    result = _run("check", "rules", "broken.rules.yaml", cwd=tmp_path)
    assert result.returncode != 0


def _series(series: str, values: str) -> dict[str, str]:
    return {"series": series, "values": values}


def _alert(labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": {"summary": summary, "description": description}}


def _check(eval_time: str, alertname: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": eval_time, "alertname": alertname, "exp_alerts": list(alerts)}


def _group(input_series: list[dict[str, str]], checks: list[dict[str, Any]], interval: str = "1m") -> dict[str, Any]:
    return {"interval": interval, "input_series": input_series, "alert_rule_test": checks}


_NE = 'job="node-exporter",instance="n1:9100"'
_KSM = 'job="kube-state-metrics",instance="10.0.0.5:8080"'
_PROM = 'job="prometheus",instance="localhost:9090"'
_FS_SUMMARY = "Filesystem has less than {}% space left."
_FS_DESCRIPTION = "Filesystem {} ({}) on n1:9100 has {}% space left (threshold {}%)."
_NE_DESCRIPTION = (
    "node-exporter target {} is not being scraped; node CPU, memory and filesystem alerts for that node cannot fire."
)
_KSM_DESCRIPTION = (
    "kube-state-metrics target {} is not being scraped; workload, replica and HPA metrics are missing and "
    "KubePodCrashLooping cannot fire."
)
_CRASH_DESCRIPTION = (
    "Container app of pod default/{} restarted at least 3 times in 15 minutes or is waiting in CrashLoopBackOff."
)


def _fs(mountpoint: str, device: str, fstype: str, avail: int, readonly: int) -> list[dict[str, str]]:
    labels = f'{_NE},device="{device}",fstype="{fstype}",mountpoint="{mountpoint}"'
    return [
        _series(f"node_filesystem_avail_bytes{{{labels}}}", f"{avail}x40"),
        _series(f"node_filesystem_size_bytes{{{labels}}}", "100x40"),
        _series(f"node_filesystem_readonly{{{labels}}}", f"{readonly}x40"),
    ]


def _fs_alert(severity: str, threshold: int, mountpoint: str, device: str, left: str) -> dict[str, Any]:
    return _alert(
        {
            "severity": severity,
            "job": "node-exporter",
            "instance": "n1:9100",
            "device": device,
            "fstype": "ext4",
            "mountpoint": mountpoint,
        },
        _FS_SUMMARY.format(threshold),
        _FS_DESCRIPTION.format(mountpoint, device, left, threshold),
    )


_KUBELET = 'job="kubernetes-nodes",instance="n1"'
_PVC = 'namespace="monitoring",persistentvolumeclaim="data-prometheus-0"'
_AM = 'job="alertmanager",instance="10.0.0.8:9093"'


def _pvc_alert(severity: str, threshold: int, left: str) -> dict[str, Any]:
    return _alert(
        {"severity": severity, "namespace": "monitoring", "persistentvolumeclaim": "data-prometheus-0"},
        f"A PersistentVolume has less than {threshold}% space left.",
        f"The volume of claim monitoring/data-prometheus-0 has {left}.0% space left (threshold {threshold}%); "
        "Prometheus and Alertmanager stop writing when theirs is full.",
    )


def _tsdb_counter_test(alertname: str, metric: str, description: tuple[str, str]) -> list[dict[str, Any]]:
    """A counter failing every 15 minutes from 1h on, next to one that never fails."""
    return [
        _group(
            [
                _series(f"{metric}{{{_PROM}}}", "0x4 1+1x40"),
                _series(f'{metric}{{job="prometheus",instance="healthy:9090"}}', "0x44"),
            ],
            [
                _check("3h", alertname),  # failing for ~2h: still pending (for: 4h)
                _check(
                    "8h",
                    alertname,
                    _alert({"severity": "warning", "job": "prometheus", "instance": "localhost:9090"}, *description),
                ),
            ],
            interval="15m",
        )
    ]


#: alertname -> promtool test groups. Each alert has a case where it fires and one where it must not.
ALERT_TESTS: dict[str, list[dict[str, Any]]] = {
    "TargetDown": [
        _group(
            [
                _series('up{job="kubernetes-pods",instance="a:8080"}', "1x40"),
                _series('up{job="kubernetes-pods",instance="b:8080"}', "1x5 0x35"),
                _series('up{job="node-exporter",instance="n1:9100"}', "1x40"),
            ],
            [
                _check("10m", "TargetDown"),  # down 4m of the 10m `for`
                _check(
                    "20m",
                    "TargetDown",
                    _alert(
                        {"severity": "warning", "job": "kubernetes-pods"},
                        "Scrape targets are down.",
                        "50% of the kubernetes-pods targets are unreachable; their metrics are missing from "
                        "dashboards, the adapter and alerts.",
                    ),
                ),
            ],
        )
    ],
    "NodeExporterDown": [
        _group(
            [
                _series('up{job="node-exporter",instance="n1:9100"}', "1x30"),
                _series('up{job="node-exporter",instance="n2:9100"}', "1x2 0x28"),
            ],
            [
                _check("4m", "NodeExporterDown"),
                _check(
                    "10m",
                    "NodeExporterDown",
                    _alert(
                        {"severity": "critical", "job": "node-exporter", "instance": "n2:9100"},
                        "node-exporter is down.",
                        _NE_DESCRIPTION.format("n2:9100"),
                    ),
                ),
            ],
        ),
        # The DaemonSet is gone: no target at all.
        _group(
            [_series(f"up{{{_PROM}}}", "1x30")],
            [
                _check("3m", "NodeExporterDown"),
                _check(
                    "10m",
                    "NodeExporterDown",
                    _alert(
                        {"severity": "critical", "job": "node-exporter"},
                        "node-exporter is down.",
                        _NE_DESCRIPTION.format("(no target discovered)"),
                    ),
                ),
            ],
        ),
    ],
    "NodeFilesystemAlmostFull": [
        _group(
            [
                *_fs("/", "/dev/sda1", "ext4", avail=10, readonly=0),
                *_fs("/data", "/dev/sdb1", "ext4", avail=2, readonly=0),
                *_fs("/boot", "/dev/sda2", "ext4", avail=50, readonly=0),
                # Read-only images are always full by design: never alert on them.
                *_fs("/snap/core", "/dev/loop0", "squashfs", avail=0, readonly=1),
            ],
            [
                _check("10m", "NodeFilesystemAlmostFull"),
                _check(
                    "20m",
                    "NodeFilesystemAlmostFull",
                    _fs_alert("warning", 15, "/", "/dev/sda1", "10.0"),
                    _fs_alert("warning", 15, "/data", "/dev/sdb1", "2.0"),
                    _fs_alert("critical", 5, "/data", "/dev/sdb1", "2.0"),
                ),
            ],
        )
    ],
    "NodeMemoryPressure": [
        _group(
            [
                _series(f"node_memory_MemAvailable_bytes{{{_NE}}}", "5x40"),
                _series(f"node_memory_MemTotal_bytes{{{_NE}}}", "100x40"),
                _series('node_memory_MemAvailable_bytes{job="node-exporter",instance="n2:9100"}', "50x40"),
                _series('node_memory_MemTotal_bytes{job="node-exporter",instance="n2:9100"}', "100x40"),
            ],
            [
                _check("10m", "NodeMemoryPressure"),
                _check(
                    "20m",
                    "NodeMemoryPressure",
                    _alert(
                        {"severity": "warning", "job": "node-exporter", "instance": "n1:9100"},
                        "Node has less than 10% memory available.",
                        "n1:9100 has 5.0% of its memory available; the kernel may start OOM-killing pods or the "
                        "kubelet may evict them.",
                    ),
                ),
            ],
        )
    ],
    "KubeStateMetricsDown": [
        _group(
            [_series(f"up{{{_KSM}}}", "1x2 0x28")],
            [
                _check("4m", "KubeStateMetricsDown"),
                _check(
                    "10m",
                    "KubeStateMetricsDown",
                    _alert(
                        {"severity": "critical", "job": "kube-state-metrics", "instance": "10.0.0.5:8080"},
                        "kube-state-metrics is down.",
                        _KSM_DESCRIPTION.format("10.0.0.5:8080"),
                    ),
                ),
            ],
        ),
        _group(
            [_series(f"up{{{_PROM}}}", "1x30")],
            [
                _check(
                    "10m",
                    "KubeStateMetricsDown",
                    _alert(
                        {"severity": "critical", "job": "kube-state-metrics"},
                        "kube-state-metrics is down.",
                        _KSM_DESCRIPTION.format("(no target discovered)"),
                    ),
                ),
            ],
        ),
        _group(
            [_series(f"up{{{_KSM}}}", "1x30")],
            [_check("10m", "KubeStateMetricsDown"), _check("30m", "KubeStateMetricsDown")],
        ),
    ],
    "KubePodCrashLooping": [
        _group(
            [
                # Restarts every minute.
                _series(
                    f'kube_pod_container_status_restarts_total{{{_KSM},namespace="default",pod="crashy",container="app"}}',
                    "0+1x40",
                ),
                # Restarted twice long ago, stable since.
                _series(
                    f'kube_pod_container_status_restarts_total{{{_KSM},namespace="default",pod="steady",container="app"}}',
                    "2x40",
                ),
                # At the back-off cap: no restart in the window, but waiting in CrashLoopBackOff.
                _series(
                    f'kube_pod_container_status_restarts_total{{{_KSM},namespace="default",pod="backoff",container="app"}}',
                    "7x40",
                ),
                _series(
                    f'kube_pod_container_status_waiting_reason{{{_KSM},namespace="default",pod="backoff",container="app",'
                    'reason="CrashLoopBackOff"}',
                    "1x40",
                ),
            ],
            [
                _check("4m", "KubePodCrashLooping"),
                _check(
                    "20m",
                    "KubePodCrashLooping",
                    _alert(
                        {"severity": "warning", "namespace": "default", "pod": "crashy", "container": "app"},
                        "A container is crash looping.",
                        _CRASH_DESCRIPTION.format("crashy"),
                    ),
                    _alert(
                        {"severity": "warning", "namespace": "default", "pod": "backoff", "container": "app"},
                        "A container is crash looping.",
                        _CRASH_DESCRIPTION.format("backoff"),
                    ),
                ),
            ],
        )
    ],
    "CustomMetricsAPIServiceUnavailable": [
        _group(
            [
                _series(
                    'aggregator_unavailable_apiservice{job="kubernetes-apiservers",instance="10.0.0.1:6443",'
                    'name="v1beta1.custom.metrics.k8s.io"}',
                    "0x3 1x30",
                ),
                _series(
                    'aggregator_unavailable_apiservice{job="kubernetes-apiservers",instance="10.0.0.1:6443",'
                    'name="v1beta2.custom.metrics.k8s.io"}',
                    "0x33",
                ),
                # Someone else's APIService: not ours to alert on.
                _series(
                    'aggregator_unavailable_apiservice{job="kubernetes-apiservers",instance="10.0.0.1:6443",'
                    'name="v1beta1.metrics.k8s.io"}',
                    "1x33",
                ),
            ],
            [
                _check("6m", "CustomMetricsAPIServiceUnavailable"),
                _check(
                    "15m",
                    "CustomMetricsAPIServiceUnavailable",
                    _alert(
                        {"severity": "critical", "name": "v1beta1.custom.metrics.k8s.io"},
                        "The custom metrics API is unavailable.",
                        "The API server marks APIService v1beta1.custom.metrics.k8s.io unavailable: it cannot reach "
                        "prometheus-adapter, so HorizontalPodAutoscalers on custom metrics cannot scale.",
                    ),
                ),
            ],
        )
    ],
    "PrometheusAdapterDown": [
        _group(
            [
                _series('up{job="prometheus-adapter",instance="10.0.0.7:6443"}', "0x20"),
                _series('up{job="prometheus-adapter",instance="10.0.0.8:6443"}', "1x20"),
            ],
            [
                _check("3m", "PrometheusAdapterDown"),
                _check(
                    "10m",
                    "PrometheusAdapterDown",
                    _alert(
                        {"severity": "warning", "job": "prometheus-adapter", "instance": "10.0.0.7:6443"},
                        "A prometheus-adapter replica is down.",
                        "prometheus-adapter 10.0.0.7:6443 does not answer scrapes; if no replica is left, "
                        "CustomMetricsAPIServiceUnavailable follows.",
                    ),
                ),
            ],
        ),
        # Not scraped at all: the APIService alert covers that, this one stays silent.
        _group([_series(f"up{{{_PROM}}}", "1x20")], [_check("10m", "PrometheusAdapterDown")]),
    ],
    "PrometheusBadConfig": [
        _group(
            [
                _series(f"prometheus_config_last_reload_successful{{{_PROM}}}", "1x5 0x30"),
                _series('prometheus_config_last_reload_successful{job="prometheus",instance="healthy:9090"}', "1x35"),
            ],
            [
                _check("15m", "PrometheusBadConfig"),
                _check(
                    "30m",
                    "PrometheusBadConfig",
                    _alert(
                        {"severity": "critical", "job": "prometheus", "instance": "localhost:9090"},
                        "Prometheus failed to reload its configuration.",
                        "Prometheus localhost:9090 rejected its last configuration reload and keeps running the "
                        "previous one; the committed configuration is not in effect.",
                    ),
                ),
            ],
        )
    ],
    "PrometheusRuleEvaluationFailures": [
        _group(
            [
                _series(
                    f'prometheus_rule_evaluation_failures_total{{{_PROM},rule_group="rules.yaml;bad"}}', "0x5 1+1x40"
                ),
                _series(f'prometheus_rule_evaluation_failures_total{{{_PROM},rule_group="rules.yaml;good"}}', "3x45"),
            ],
            [
                _check("15m", "PrometheusRuleEvaluationFailures"),
                _check(
                    "30m",
                    "PrometheusRuleEvaluationFailures",
                    _alert(
                        {
                            "severity": "critical",
                            "job": "prometheus",
                            "instance": "localhost:9090",
                            "rule_group": "rules.yaml;bad",
                        },
                        "Prometheus is failing to evaluate rules.",
                        "Prometheus localhost:9090 failed 5 rule evaluations in rule group rules.yaml;bad in the last "
                        "5 minutes; recorded series and alerts from that group may be missing.",
                    ),
                ),
            ],
        )
    ],
    "PrometheusTSDBCompactionsFailing": _tsdb_counter_test(
        "PrometheusTSDBCompactionsFailing",
        "prometheus_tsdb_compactions_failed_total",
        (
            "Prometheus is failing to compact its storage.",
            "Prometheus localhost:9090 had 12 failed compactions in the last 3 hours; the head block grows in "
            "memory and on disk until it succeeds.",
        ),
    ),
    "PrometheusTSDBReloadsFailing": _tsdb_counter_test(
        "PrometheusTSDBReloadsFailing",
        "prometheus_tsdb_reloads_failures_total",
        (
            "Prometheus is failing to reload blocks from disk.",
            "Prometheus localhost:9090 failed 12 times in the last 3 hours to load data blocks from disk; queries "
            "may miss data and retention may stall.",
        ),
    ),
    "PrometheusTSDBWALCorruptions": [
        # Found while replaying the WAL at start-up: the counter is 1 from its first scrape.
        _group(
            [
                _series(f"prometheus_tsdb_wal_corruptions_total{{{_PROM}}}", "1x300"),
                _series(f"process_start_time_seconds{{{_PROM}}}", "0x300"),
            ],
            [
                _check(
                    "10m",
                    "PrometheusTSDBWALCorruptions",
                    _alert(
                        {"severity": "warning", "job": "prometheus", "instance": "localhost:9090"},
                        "Prometheus found a corrupted write-ahead log.",
                        "Prometheus localhost:9090 found a corrupted write-ahead log in the last 3 hours and repaired "
                        "it by dropping the records after the corruption: recent samples may be lost. Check the "
                        "volume for disk or filesystem errors.",
                    ),
                ),
                _check("4h", "PrometheusTSDBWALCorruptions"),  # 3h later, nothing new
            ],
        ),
        # Found while running, 5h after start.
        _group(
            [
                _series(f"prometheus_tsdb_wal_corruptions_total{{{_PROM}}}", "0x20 1x20"),
                _series(f"process_start_time_seconds{{{_PROM}}}", "0x40"),
            ],
            [
                _check("4h", "PrometheusTSDBWALCorruptions"),
                _check(
                    "6h",
                    "PrometheusTSDBWALCorruptions",
                    _alert(
                        {"severity": "warning", "job": "prometheus", "instance": "localhost:9090"},
                        "Prometheus found a corrupted write-ahead log.",
                        "Prometheus localhost:9090 found a corrupted write-ahead log in the last 3 hours and repaired "
                        "it by dropping the records after the corruption: recent samples may be lost. Check the "
                        "volume for disk or filesystem errors.",
                    ),
                ),
                _check("9h30m", "PrometheusTSDBWALCorruptions"),
            ],
            interval="15m",
        ),
    ],
    "Watchdog": [
        # Always firing by design (a heartbeat): no input, no silent case.
        _group([], [_check(t, "Watchdog", _alert(
            {"severity": "none"}, "The alerting pipeline is alive.",
            "Always firing, on purpose: Alertmanager sends it to the heartbeat receiver every minute. When that "
            "receiver stops hearing it, Prometheus, Alertmanager or the path between them is broken, and no other "
            "alert can reach anyone.")) for t in ("0m", "1h")]),
    ],
    "KubeNodeNotReady": [
        _group(
            [
                _series(f'kube_node_status_condition{{{_KSM},node="n1",condition="Ready",status="true"}}', "1x5 0x30"),
                _series(f'kube_node_status_condition{{{_KSM},node="n2",condition="Ready",status="true"}}', "1x35"),
            ],
            [
                _check("15m", "KubeNodeNotReady"),
                _check("25m", "KubeNodeNotReady", _alert(
                    {"severity": "warning", "node": "n1"}, "A node is not ready.",
                    "Node n1 has not been Ready for 15m; its pods are being evicted or cannot run. Other alerts "
                    "about this node are held back while this one fires.")),
            ],
        ),
    ],
    "KubePersistentVolumeFillingUp": [
        _group(
            [
                _series(f'kubelet_volume_stats_available_bytes{{{_KUBELET},{_PVC}}}', "50x5 8x10 2x10"),
                _series(f'kubelet_volume_stats_capacity_bytes{{{_KUBELET},{_PVC}}}', "100x25"),
                _series(f'kubelet_volume_stats_available_bytes{{{_KUBELET},namespace="monitoring",'
                        'persistentvolumeclaim="grafana-data"}', "90x25"),
                _series(f'kubelet_volume_stats_capacity_bytes{{{_KUBELET},namespace="monitoring",'
                        'persistentvolumeclaim="grafana-data"}', "100x25"),
            ],
            [
                _check("4m", "KubePersistentVolumeFillingUp"),
                _check("13m", "KubePersistentVolumeFillingUp", _pvc_alert("warning", 10, "8")),
                _check("23m", "KubePersistentVolumeFillingUp", _pvc_alert("warning", 10, "2"),
                       _pvc_alert("critical", 3, "2")),
            ],
        ),
    ],
    "PrometheusStorageNearRetentionSize": [
        _group(
            [
                _series(f"prometheus_tsdb_storage_blocks_bytes{{{_PROM}}}", "50x10 95x80"),
                _series(f"prometheus_tsdb_retention_limit_bytes{{{_PROM}}}", "100x90"),
                # No retention size configured: the limit is 0 and the alert stays silent.
                _series('prometheus_tsdb_storage_blocks_bytes{job="prometheus",instance="unbounded:9090"}', "95x90"),
                _series('prometheus_tsdb_retention_limit_bytes{job="prometheus",instance="unbounded:9090"}', "0x90"),
            ],
            [
                _check("30m", "PrometheusStorageNearRetentionSize"),
                _check("80m", "PrometheusStorageNearRetentionSize", _alert(
                    {"severity": "warning", "job": "prometheus", "instance": "localhost:9090"},
                    "Prometheus storage is close to its retention size.",
                    "Prometheus localhost:9090 uses 95% of its retention size: it now deletes the oldest blocks to "
                    "stay under it, so it keeps less history than its retention time. Grow the volume or shorten "
                    "the retention.")),
            ],
        ),
    ],
    "AlertmanagerDown": [
        _group(
            [_series(f"up{{{_AM}}}", "1x3 0x10"), _series('up{job="alertmanager",instance="10.0.0.9:9093"}', "1x13")],
            [
                _check("3m", "AlertmanagerDown"),
                _check("10m", "AlertmanagerDown", _alert(
                    {"severity": "critical", "job": "alertmanager", "instance": "10.0.0.8:9093"},
                    "Alertmanager is down.",
                    "Alertmanager target 10.0.0.8:9093 is not being scraped; if no replica is left, no alert "
                    "reaches anyone (the heartbeat receiver notices).")),
            ],
        ),
    ],
    "AlertmanagerFailedToSendAlerts": [
        _group(
            [
                _series(f'alertmanager_notifications_total{{{_AM},integration="slack"}}', "0+100x20"),
                _series(f'alertmanager_notifications_failed_total{{{_AM},integration="slack",reason="other"}}',
                        "0x5 0+10x15"),
                _series(f'alertmanager_notifications_total{{{_AM},integration="pagerduty"}}', "0+100x20"),
                _series(f'alertmanager_notifications_failed_total{{{_AM},integration="pagerduty",reason="other"}}',
                        "0x20"),
            ],
            [
                _check("5m", "AlertmanagerFailedToSendAlerts"),
                _check("15m", "AlertmanagerFailedToSendAlerts", _alert(
                    {"severity": "warning", "job": "alertmanager", "instance": "10.0.0.8:9093",
                     "integration": "slack", "reason": "other"},
                    "Alertmanager fails to send notifications.",
                    "Alertmanager 10.0.0.8:9093 failed to send 10.0% of its slack notifications in the last 5 "
                    "minutes; check the receiver's sealed secret and the network path to it.")),
            ],
        ),
    ],
    "AlertmanagerFailedReload": [
        _group(
            [_series(f"alertmanager_config_last_reload_successful{{{_AM}}}", "1x5 0x30")],
            [
                _check("15m", "AlertmanagerFailedReload"),
                _check("30m", "AlertmanagerFailedReload", _alert(
                    {"severity": "critical", "job": "alertmanager", "instance": "10.0.0.8:9093"},
                    "Alertmanager failed to reload its configuration.",
                    "Alertmanager 10.0.0.8:9093 rejected its last configuration and keeps routing with the "
                    "previous one; the committed routing is not in effect.")),
            ],
        ),
    ],
    "AlertmanagerMembersInconsistent": [
        _group(
            [
                _series(f"alertmanager_cluster_members{{{_AM}}}", "3x5 1x20"),
                _series('alertmanager_cluster_members{job="alertmanager",instance="10.0.0.9:9093"}', "3x25"),
                _series('alertmanager_cluster_members{job="alertmanager",instance="10.0.0.10:9093"}', "3x25"),
            ],
            [
                _check("5m", "AlertmanagerMembersInconsistent"),
                _check("20m", "AlertmanagerMembersInconsistent", _alert(
                    {"severity": "critical", "job": "alertmanager", "instance": "10.0.0.8:9093"},
                    "Alertmanager replicas do not see each other.",
                    "Alertmanager 10.0.0.8:9093 sees 1 members of its mesh, fewer than the replicas scraped: "
                    "silences and notification state are no longer shared, so alerts may be sent twice or silenced "
                    "only on some replicas.")),
            ],
        ),
    ],
}

#: Recording rules the dashboards and the adapter depend on, checked for their values.
RECORDING_TESTS: list[dict[str, Any]] = [
    {
        "interval": "1m",
        "input_series": [
            _series('http_requests_total{job="kubernetes-pods",namespace="default",pod="web-1"}', "0+60x20"),
            _series('http_requests_total{job="kubernetes-pods",namespace="default",pod="web-2"}', "0+120x20"),
            _series(
                'container_cpu_usage_seconds_total{job="kubernetes-cadvisor",namespace="default",pod="web-1",'
                'container="app",image="app:1"}',
                "0+30x20",
            ),
            # The pod-level cgroup (container="") would double-count.
            _series(
                'container_cpu_usage_seconds_total{job="kubernetes-cadvisor",namespace="default",pod="web-1",'
                'container="",image=""}',
                "0+600x20",
            ),
            _series(
                'kube_pod_container_resource_requests{job="kube-state-metrics",namespace="default",pod="web-1",'
                'container="app",resource="cpu",unit="core"}',
                "0.25x20",
            ),
            # A completed Job's pod keeps its request series; it holds no resources.
            _series(
                'kube_pod_container_resource_requests{job="kube-state-metrics",namespace="default",pod="done",'
                'container="job",resource="cpu",unit="core"}',
                "1x20",
            ),
            _series(
                'kube_pod_status_phase{job="kube-state-metrics",namespace="default",pod="web-1",phase="Running"}',
                "1x20",
            ),
            _series(
                'kube_pod_status_phase{job="kube-state-metrics",namespace="default",pod="done",phase="Running"}', "0x20"
            ),
            _series(
                'kube_pod_status_phase{job="kube-state-metrics",namespace="default",pod="done",phase="Succeeded"}',
                "1x20",
            ),
        ],
        "promql_expr_test": [
            {
                "expr": "namespace_pod:http_requests:rate5m",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": 'namespace_pod:http_requests:rate5m{namespace="default",pod="web-1"}', "value": 1},
                    {"labels": 'namespace_pod:http_requests:rate5m{namespace="default",pod="web-2"}', "value": 2},
                ],
            },
            {
                "expr": "namespace:http_requests:rate5m",
                "eval_time": "10m",
                "exp_samples": [{"labels": 'namespace:http_requests:rate5m{namespace="default"}', "value": 3}],
            },
            {
                "expr": "namespace:container_cpu_usage_seconds:rate5m",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": 'namespace:container_cpu_usage_seconds:rate5m{namespace="default"}', "value": 0.5}
                ],
            },
            {
                "expr": "namespace_resource:kube_pod_container_resource_requests:sum",
                "eval_time": "10m",
                "exp_samples": [
                    {
                        "labels": "namespace_resource:kube_pod_container_resource_requests:sum"
                        '{namespace="default",resource="cpu"}',
                        "value": 0.25,
                    }
                ],
            },
        ],
    }
]


def _write_test_file(directory: Path, name: str, groups: list[dict[str, Any]]) -> str:
    document = {
        "rule_files": [RECORDING_RULES_FILE, ALERTING_RULES_FILE],
        "evaluation_interval": "1m",
        "tests": groups,
    }
    filename = f"{name}.test.yaml"
    (directory / filename).write_text(yaml.safe_dump(document, sort_keys=False, width=4096))
    return filename


def test_every_alert_has_a_promtool_test_that_fires_and_one_that_stays_silent() -> None:
    alert_names = {
        group_rule.alert
        for group in alerting_groups(CFG)
        for group_rule in group.rules
        if isinstance(group_rule, AlertingRule)
    }
    assert set(ALERT_TESTS) == alert_names, "alerts without a promtool test (or tests for alerts that do not exist)"
    for alertname, groups in ALERT_TESTS.items():
        checks = [check for group in groups for check in group["alert_rule_test"]]
        assert all(check["alertname"] == alertname for check in checks), alertname
        assert any(check["exp_alerts"] for check in checks), f"{alertname}: no case where it fires"
        if alertname != "Watchdog":  # the heartbeat fires by design, always
            assert any(not check["exp_alerts"] for check in checks), f"{alertname}: no case where it stays silent"


@pytest.mark.parametrize("alertname", sorted(ALERT_TESTS))
def test_promtool_alert_unit_tests(rules_dir: Path, alertname: str) -> None:
    test_file = _write_test_file(rules_dir, alertname, ALERT_TESTS[alertname])
    result = _run("test", "rules", test_file, cwd=rules_dir)
    assert result.returncode == 0, f"alert {alertname}: promtool test rules failed\n{result.stdout}{result.stderr}"


def test_promtool_recording_rule_unit_tests(rules_dir: Path) -> None:
    test_file = _write_test_file(rules_dir, "recording", RECORDING_TESTS)
    result = _run("test", "rules", test_file, cwd=rules_dir)
    assert result.returncode == 0, f"recording rules: promtool test rules failed\n{result.stdout}{result.stderr}"


def test_promtool_unit_tests_can_fail(rules_dir: Path) -> None:
    """A wrong expectation must make promtool fail, or the tests above prove nothing."""
    wrong = [
        _group(
            [_series(f"up{{{_KSM}}}", "1x30")],
            [
                _check(
                    "10m",
                    "KubeStateMetricsDown",
                    _alert({"severity": "critical", "job": "kube-state-metrics"}, "x", "y"),
                )
            ],
        )
    ]
    test_file = _write_test_file(rules_dir, "wrong", wrong)
    result = _run("test", "rules", test_file, cwd=rules_dir)
    assert result.returncode != 0
    assert "KubeStateMetricsDown" in result.stdout + result.stderr
