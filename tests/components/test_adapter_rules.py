"""The adapter's container_* rules count containers only, never the pod's own cgroup."""

from __future__ import annotations

import re
from collections.abc import Mapping

import promql_parser
import pytest
import yaml

from conftest import Rendered, find
from promstack.content.catalog import parse, render_adapter_template

# cAdvisor series for one pod: two containers, the pod-level cgroup (container="") and, on runtimes
# that still report it, the pause container.
POD = {"namespace": "shop", "pod": "web-7d4b9"}
CONTAINERS = [{**POD, "container": "web"}, {**POD, "container": "sidecar"}]
NOT_CONTAINERS = [{**POD, "container": ""}, {**POD, "container": "POD"}, {"namespace": "shop", "container": "web"}]


def selects(selector: promql_parser.VectorSelector, labels: Mapping[str, str]) -> bool:
    """Prometheus' matcher semantics: a missing label is the empty string, regexes are fully anchored."""
    for matcher in selector.matchers.matchers:
        value = labels.get(matcher.name, "")
        if matcher.op == promql_parser.MatchOp.Equal:
            ok = value == matcher.value
        elif matcher.op == promql_parser.MatchOp.NotEqual:
            ok = value != matcher.value
        else:
            found = re.fullmatch(f"(?s:{matcher.value})", value) is not None
            ok = found if matcher.op == promql_parser.MatchOp.Re else not found
        if not ok:
            return False
    return True


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(parse(expr), visit)
    return found


@pytest.fixture(scope="module")
def container_rules(rendered: list[Rendered]) -> list[dict[str, str]]:
    config = yaml.safe_load(find(rendered, "demo", "ConfigMap", "prometheus-adapter-config")["data"]["config.yaml"])
    rules = [rule for rule in config["rules"] if '__name__=~"^container_' in rule["seriesQuery"]]
    assert len(rules) == 3, "the three container_* rules of upstream's defaults"
    return rules


def test_container_rules_discover_series_of_containers_only(container_rules: list[dict[str, str]]) -> None:
    for rule in container_rules:
        [selector] = selectors(rule["seriesQuery"])
        for labels in CONTAINERS:
            assert selects(selector, {"__name__": "container_cpu_usage_seconds_total", **labels}), labels
        for labels in NOT_CONTAINERS:
            assert not selects(selector, {"__name__": "container_cpu_usage_seconds_total", **labels}), labels


def test_container_rules_sum_containers_only(container_rules: list[dict[str, str]]) -> None:
    """The adapter adds the request's own matchers (pods of a namespace, or a namespace) to
    metricsQuery; the pod's cgroup series match those too, so metricsQuery itself must leave them out."""
    requests = {"pod": 'namespace="shop",pod=~"web-7d4b9"', "namespace": 'namespace="shop"'}
    for rule in container_rules:
        for group_by, label_matchers in requests.items():
            query = render_adapter_template(rule["metricsQuery"], "container_memory_working_set_bytes",
                                            label_matchers=label_matchers, group_by=group_by)
            [selector] = selectors(query)
            for labels in CONTAINERS:
                assert selects(selector, {"__name__": "container_memory_working_set_bytes", **labels}), labels
            for labels in NOT_CONTAINERS:
                assert not selects(selector, {"__name__": "container_memory_working_set_bytes", **labels}), labels
