"""promstack.dashboards: stable uids, variables, datasource wiring, size, and every query's PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from promstack.content.catalog import PromQLError, parse, render_grafana_query, unknown_metrics
from promstack.content.dashboards import (
    DATASOURCE_UID,
    PanelQuery,
    dashboard_models,
    dashboards,
    iter_queries,
    iter_variable_queries,
)
from promstack.content.dashboards._common import to_json_text
from promstack.content.dashboards.fleet import with_cluster_variable
from promstack.content.rules import JOBS

#: uid -> template variables it must offer. A uid is a dashboard's permanent address: never change one.
EXPECTED: dict[str, set[str]] = {
    "promstack-nodes": {"datasource", "node"},
    "promstack-workloads": {"datasource", "namespace", "pod"},
    "promstack-custom-metrics": {"datasource", "namespace", "pod"},
    "promstack-prometheus": {"datasource"},
}
MAX_BYTES = 256 * 1024  # Grafana and ConfigMaps allow 1 MiB; stay well under.
# Variables Grafana defines itself.
_BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__all"}
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)")

MODELS = dashboard_models()
QUERIES = list(iter_queries())


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in model["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in model["templating"]["list"]}


def test_dashboards_have_stable_uids_and_file_names() -> None:
    files = dashboards()
    assert set(files) == {f"{uid}.json" for uid in EXPECTED}
    for filename, text in files.items():
        assert json.loads(text)["uid"] == filename.removesuffix(".json")


def test_json_is_deterministic_with_sorted_keys() -> None:
    first, second = dashboards(), dashboards()
    assert first == second
    assert list(first) == sorted(first)
    for filename, text in first.items():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n", filename


@pytest.mark.parametrize("filename", sorted(f"{uid}.json" for uid in EXPECTED))
def test_dashboard_is_well_under_the_size_limit(filename: str) -> None:
    size = len(dashboards()[filename].encode())
    assert size < MAX_BYTES, f"{filename} is {size} bytes; keep it under {MAX_BYTES}"


@pytest.mark.parametrize("uid", sorted(EXPECTED))
def test_dashboard_offers_its_variables(uid: str) -> None:
    variables = _variables(MODELS[uid])
    missing = EXPECTED[uid] - set(variables)
    assert not missing, f"dashboard {uid} lacks variables {sorted(missing)}"
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    assert datasource["current"]["value"] == DATASOURCE_UID
    for name, variable in variables.items():
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, f"{uid} ${name}"


@pytest.mark.parametrize("uid", sorted(EXPECTED))
def test_every_panel_queries_through_the_datasource_variable(uid: str) -> None:
    model = MODELS[uid]
    ids = []
    for panel in _panels(model):
        ids.append(panel["id"])
        if panel["type"] == "row":
            continue
        where = f"dashboard {model['title']!r}, panel {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], f"{where} has no query"
        ref_ids = [query["refId"] for query in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for query in panel["targets"]:
            assert query["datasource"] == panel["datasource"], where
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, where
    assert len(ids) == len(set(ids)), f"dashboard {uid}: panel ids repeat"


def test_dashboards_share_a_tag_and_are_read_only() -> None:
    for uid, model in MODELS.items():
        assert "promstack" in model["tags"], uid
        assert model["editable"] is False, f"{uid}: edits belong in git, not in the Grafana UI"
        assert model["annotations"]["list"][0]["builtIn"] == 1, uid


def _problems(query: PanelQuery, variables: set[str]) -> list[str]:
    """Everything wrong with one panel query; empty when it is fine."""
    problems: list[str] = []
    try:
        expr = parse(render_grafana_query(query.expr))
    except PromQLError as exc:
        return [str(exc)]
    unknown = unknown_metrics(render_grafana_query(query.expr))
    if unknown:
        problems.append(f"metrics no catalog lists: {sorted(unknown)}")
    undefined = {name for name in _VARIABLE.findall(query.expr) if name not in variables | _BUILTIN_VARIABLES}
    if undefined:
        problems.append(f"undefined variables: {sorted(undefined)}")
    jobs: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            jobs.extend(
                m.value for m in node.matchers.matchers if m.name == "job" and m.op == promql_parser.MatchOp.Equal
            )

    promql_parser.walk(expr, visit)
    stray = set(jobs) - set(JOBS.values())
    if stray:
        problems.append(f"jobs outside JOBS: {sorted(stray)}")
    return problems


def _variables_by_title() -> dict[str, set[str]]:
    return {model["title"]: set(_variables(model)) for model in MODELS.values()}


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_panel_query_is_valid_promql_over_catalogued_metrics(query: PanelQuery) -> None:
    problems = _problems(query, _variables_by_title()[query.dashboard])
    assert not problems, f"{query}: {'; '.join(problems)}\n  {query.expr}"


def test_the_query_check_catches_mistakes() -> None:
    query = next(q for q in QUERIES if "node_memory_MemAvailable_bytes" in q.expr)
    variables = _variables_by_title()[query.dashboard]
    assert _problems(query, variables) == []
    typo = replace(query, expr=query.expr.replace("MemAvailable", "MemAvailabe"))
    assert _problems(typo, variables) == ["metrics no catalog lists: ['node_memory_MemAvailabe_bytes']"]
    broken = replace(query, expr=query.expr + ")")
    assert _problems(broken, variables)[0].startswith("invalid PromQL")
    undefined = replace(query, expr=query.expr.replace("$instance", "$instances"))
    assert _problems(undefined, variables) == ["undefined variables: ['instances']"]


def test_every_dashboard_has_queries() -> None:
    assert {query.dashboard for query in QUERIES} == {model["title"] for model in MODELS.values()}


@pytest.mark.parametrize("variable", list(iter_variable_queries()), ids=str)
def test_variable_query_selects_catalogued_metrics(variable: Any) -> None:
    try:
        unknown = unknown_metrics(variable.selector)
    except PromQLError as exc:
        pytest.fail(f"{variable}: {exc}")
    assert not unknown, f"{variable}: metrics no catalog lists: {sorted(unknown)}"


def test_repeated_panels_repeat_over_a_defined_variable() -> None:
    for model in MODELS.values():
        variables = set(_variables(model))
        for panel in _panels(model):
            if panel.get("repeat"):
                assert panel["repeat"] in variables, f"{model['title']}: panel {panel['title']!r}"


def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    """Prometheus' own parser (promtool) agrees: each query checked as a recording rule in its own group."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found on PATH: run `make test`, which installs Debian's `prometheus` package")
    groups = [
        {"name": str(query), "rules": [{"record": "dashboard:query:check", "expr": render_grafana_query(query.expr)}]}
        for query in QUERIES
    ]
    (tmp_path / "dashboards.rules.yaml").write_text(yaml.safe_dump({"groups": groups}, width=4096))
    result = subprocess.run(
        [promtool, "check", "rules", "dashboards.rules.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: prometheus-adapter v0.12's own labels on its query histogram (pkg/client/metrics/metrics.go):
#: ``path`` (the Prometheus API path queried) and ``server`` (the Prometheus URL); ``le`` on buckets.
ADAPTER_QUERY_HISTOGRAM = "prometheus_adapter_prometheus_client_request_duration_seconds"
ADAPTER_QUERY_LABELS = {"path", "server", "le"}
#: Labels the adapter's scrape job adds to every series (job, instance and service_job's target labels).
ADAPTER_TARGET_LABELS = {"job", "instance", "namespace", "service", "pod", "node"}


def _grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)

    promql_parser.walk(parse(render_grafana_query(expr)), visit)
    return labels


def test_adapter_query_latency_groups_by_labels_the_adapter_exports() -> None:
    queries = [q for q in QUERIES if ADAPTER_QUERY_HISTOGRAM in q.expr]
    assert queries, "a panel shows the adapter's query latency"
    for query in queries:
        grouping = _grouping_labels(query.expr)
        assert "path" in grouping, f"{query}: group by the API path queried"
        assert grouping <= ADAPTER_QUERY_LABELS | ADAPTER_TARGET_LABELS, (
            f"{query}: groups by {sorted(grouping - ADAPTER_QUERY_LABELS - ADAPTER_TARGET_LABELS)}, "
            "labels no series of this histogram carries")
    panels = [panel for model in MODELS.values() for panel in _panels(model)
              if any(ADAPTER_QUERY_HISTOGRAM in t.get("expr", "") for t in panel.get("targets", []))]
    legends = {t["legendFormat"] for panel in panels for t in panel["targets"]}
    assert legends == {"{{path}}"}


@pytest.mark.parametrize("cluster", ["prod-eu-1", 'quote"and\\backslash', "ünïcode", "@@"])
def test_dashboards_rendered_once_per_fleet_name_each_cluster_as_a_fresh_rendering_would(cluster: str) -> None:
    expected = {f"{uid}.json": to_json_text(with_cluster_variable(model, "cluster", current=cluster))
                for uid, model in sorted(dashboard_models().items())}
    assert dashboards(cluster_label="cluster", cluster=cluster) == expected
    assert dashboards(cluster_label="cluster") == {
        f"{uid}.json": to_json_text(with_cluster_variable(model, "cluster"))
        for uid, model in sorted(dashboard_models().items())}
