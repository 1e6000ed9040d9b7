"""The autoscaling query checks: a scaler query parses, returns one value, names known metrics and
reads windows of at least two scrapes; a cluster's adapter rules fill, parse and never serve a
metric twice; a workload is never scaled twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import CLUSTERS
from promstack.components.prometheus_adapter.rules import EXAMPLE_APP_RULE
from promstack.config.cluster import load_cluster, parse_spec
from promstack.config.model import ConfigError
from promstack.content.autoscaling_check import (
    NotCheckable,
    TemplateError,
    fill_adapter_template,
    query_problems,
    scaler_known_metrics,
    scaling_problems,
    seconds_text,
)
from promstack.gitops.synth import build_cluster, check_autoscaling

KNOWN = scaler_known_metrics(["shop_queue_depth"])
SOURCE = "clusters/x/cluster.yaml"


def problems(query: str, interval: float = 30) -> list[str]:
    return query_problems(query, known_metrics=KNOWN, scrape_interval_seconds=interval, where="W")


@pytest.mark.parametrize("query", [
    "sum(rate(http_requests_total[2m]))",
    "avg(shop_queue_depth)",
    "max(shop_queue_depth) / 10",
    "sum(rate(http_requests_total[1m])) / sum(kube_deployment_spec_replicas)",
    "scalar(sum(shop_queue_depth))",
    "vector(1)",
    "42",
    "count(up == 0)",
    "sum by () (shop_queue_depth)",
    "ceil(sum(shop_queue_depth))",
    "histogram_quantile(0.9, sum by (le) (rate(apiserver_request_duration_seconds_bucket[5m])))",
    "max_over_time(sum(shop_queue_depth)[5m:1m])",
])
def test_a_query_returning_one_value_from_known_metrics_passes(query: str) -> None:
    assert problems(query) == []


def test_a_query_that_does_not_parse_names_the_parsers_reason() -> None:
    assert problems("sum(rat(http_requests_total[2m]))") == [
        "W: 'sum(rat(http_requests_total[2m]))' is not PromQL (unknown function with name 'rat'); fix the query"]
    assert problems("sum(shop_queue_depth") == [
        "W: 'sum(shop_queue_depth' is not PromQL (unclosed left parenthesis); fix the query"]


@pytest.mark.parametrize(("query", "expected"), [
    ("sum by (pod) (rate(http_requests_total[2m]))",
     "W: the query sum by (pod) returns one series per pod, but a scaler needs one value; drop by (pod) so sum(...) "
     "returns one series"),
    ("avg without (pod) (shop_queue_depth)",
     "W: the query avg without (pod) keeps every other label, but a scaler needs one value; drop without (pod)"),
    ("rate(http_requests_total[2m])",
     "W: the query rate(...) returns one series per series of 'http_requests_total', but a scaler needs one value; "
     "wrap it in sum(...), avg(...) or max(...) without by"),
    ("shop_queue_depth",
     "W: the query selects every series of 'shop_queue_depth' without aggregating them, but a scaler needs one "
     "value; wrap it in sum(...), avg(...) or max(...) without by"),
    ("topk(1, shop_queue_depth)",
     "W: the query topk(...) keeps several series, but a scaler needs one value; aggregate its result with sum(...), "
     "max(...) or avg(...)"),
    ("sum(shop_queue_depth) / shop_queue_depth",
     "W: the query selects every series of 'shop_queue_depth' without aggregating them, but a scaler needs one "
     "value; wrap it in sum(...), avg(...) or max(...) without by"),
])
def test_a_query_returning_many_series_is_a_problem_with_its_fix(query: str, expected: str) -> None:
    assert problems(query) == [expected]


def test_an_unknown_metric_gets_a_did_you_mean() -> None:
    assert problems("sum(rate(http_request_total[2m]))") == [
        "W: metric 'http_request_total' is exported by no component of the stack; did you mean 'http_requests_total'? "
        "correct the name, or declare the metric among the workload's own metrics"]
    assert problems("sum(shop_queue_dept)") == [
        "W: metric 'shop_queue_dept' is exported by no component of the stack; did you mean 'shop_queue_depth'? "
        "correct the name, or declare the metric among the workload's own metrics"]


def test_a_declared_metric_is_known_and_an_undeclared_one_is_not() -> None:
    query = "sum(orders_pending)"
    assert query_problems(query, known_metrics=scaler_known_metrics(["orders_pending"]), scrape_interval_seconds=30,
                          where="W") == []
    [problem] = query_problems(query, known_metrics=scaler_known_metrics(), scrape_interval_seconds=30, where="W")
    assert problem.startswith("W: metric 'orders_pending' is exported by no component of the stack; ")


@pytest.mark.parametrize(("query", "interval", "expected"), [
    ("sum(rate(http_requests_total[30s]))", 30,
     "W: the range [30s] over 'http_requests_total' is shorter than twice the scrape interval (30s), so it often "
     "holds fewer than two samples and rate() and friends return nothing; use at least [1m]"),
    ("sum(rate(http_requests_total[1m]))", 45,
     "W: the range [1m] over 'http_requests_total' is shorter than twice the scrape interval (45s), so it often "
     "holds fewer than two samples and rate() and friends return nothing; use at least [1m30s]"),
    ("max_over_time(sum(shop_queue_depth)[40s:10s])", 30,
     "W: the range [40s] over 'a subquery' is shorter than twice the scrape interval (30s), so it often holds fewer "
     "than two samples and rate() and friends return nothing; use at least [1m]"),
])
def test_a_window_shorter_than_two_scrapes_is_a_problem(query: str, interval: float, expected: str) -> None:
    assert problems(query, interval) == [expected]


def test_a_window_of_exactly_two_scrapes_passes() -> None:
    assert problems("sum(rate(http_requests_total[1m]))", 30) == []


def test_every_problem_of_a_query_is_reported() -> None:
    assert len(problems("rate(http_request_total[30s])")) == 3


@pytest.mark.parametrize(("query", "expected"), [
    ("(" * 40 + "1" + ")" * 40,
     "W: the query nests brackets more than 32 deep, more than this check reads; simplify it"),
    ("+".join(["1"] * 400), "W: the query has more than 300 names, numbers and operators, more than this check reads; "
                            "simplify it"),
    ("+".join(["up"] * 150), "W: the query has more than 200 operators and operands, more than this check reads; "
                             "simplify it"),
    ("x" * 5000, "W: the query is 5000 characters long, more than the 4096 checked; shorten it"),
])
def test_a_query_too_big_to_check_is_one_problem(query: str, expected: str) -> None:
    # promql-parser's objects copy their subtree on every read: an unbounded query would take minutes.
    assert problems(query) == [expected]


def test_brackets_and_operators_inside_strings_do_not_count() -> None:
    assert problems('sum(shop_queue_depth{queue="' + "((+" * 200 + '"})') == []


def test_durations_print_as_prometheus_writes_them() -> None:
    assert [seconds_text(s) for s in (30, 60, 90, 7200, 0.5, 0)] == ["30s", "1m", "1m30s", "2h", "500ms", "0s"]


# -- adapter rules in cluster.yaml -----------------------------------------------------------------

def rule(metrics_query: str, **fields: Any) -> dict[str, Any]:
    return {"seriesQuery": 'shop_orders_total{namespace!="",pod!=""}',
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "name": {"matches": "^(.*)_total$", "as": "${1}_per_second"}, "metricsQuery": metrics_query, **fields}


def spec_problems(*rules: dict[str, Any], **spec: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"adapter": {"rules": list(rules)}, **spec}, SOURCE)
    return caught.value.problems


GOOD = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)"


def test_a_good_adapter_rule_loads() -> None:
    spec = parse_spec({"adapter": {"rules": [rule(GOOD)]}}, SOURCE)
    assert spec.adapter.rules[0].metrics_query == GOOD


def test_an_adapter_rule_with_a_function_typo_is_a_config_error() -> None:
    assert spec_problems(rule("sum(rat(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)")) == [
        f"{SOURCE}: adapter.rules[0].metricsQuery: is not PromQL once the adapter fills in its fields (unknown "
        "function with name 'rat'): 'sum(rat(shop_orders_total{namespace=\"default\",pod=~\"a|b\"}[2m])) by (pod)'; "
        "fix the query"]


def test_an_unknown_template_field_is_a_config_error() -> None:
    assert spec_problems(rule("sum(rate(<<.Serie>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)")) == [
        f"{SOURCE}: adapter.rules[0].metricsQuery: <<.Serie>> is no field of the adapter's query template; did you "
        "mean <<.Series>>? the adapter fills <<.Series>>, <<.LabelMatchers>>, <<.LabelValuesByName>>, <<.GroupBy>>, "
        "<<.GroupBySlice>>"]


def test_an_adapter_rule_dropping_the_object_label_is_a_config_error() -> None:
    assert spec_problems(rule("sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m]))")) == [
        f"{SOURCE}: adapter.rules[0].metricsQuery: sum(...) aggregates away the label of the object the adapter "
        "answers for, so every pod gets no value; group by (<<.GroupBy>>)"]


def test_an_adapter_rule_window_must_hold_two_scrapes_of_the_clusters_interval() -> None:
    assert spec_problems(rule(GOOD), prometheus={"scrapeInterval": "90s"}) == [
        f"{SOURCE}: adapter.rules[0].metricsQuery: the range [2m] over '<<.Series>>' is shorter than twice the "
        "scrape interval (1m30s), so it often holds fewer than two samples and rate() and friends return nothing; "
        "use at least [3m]"]


def test_an_adapter_rule_naming_an_unknown_metric_gets_a_did_you_mean() -> None:
    [problem] = spec_problems(rule("sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>) "
                                   "/ on (pod) sum(kube_pod_infos{<<.LabelMatchers>>}) by (<<.GroupBy>>)"))
    assert problem == (f"{SOURCE}: adapter.rules[0].metricsQuery: metric 'kube_pod_infos' is exported by no "
                       "component of the stack; did you mean 'kube_pod_info'? correct the name or use <<.Series>>, "
                       "the series the seriesQuery found")


def test_two_cluster_rules_serving_one_metric_are_a_config_error() -> None:
    assert spec_problems(rule(GOOD), rule(GOOD.replace("2m", "5m"))) == [
        f"{SOURCE}: adapter.rules[1].name: serves 'shop_orders_per_second', which adapter.rules[0] already serves, "
        "so the adapter would answer with either query; give this rule another name.as, narrow its seriesQuery, or "
        "remove one of the rules"]


def test_a_cluster_rule_serving_the_example_apps_metric_is_a_config_error() -> None:
    example = EXAMPLE_APP_RULE.to_adapter()
    assert spec_problems(example, exampleApp={"enabled": True}) == [
        f"{SOURCE}: adapter.rules[0].name: serves 'http_requests_per_second', which the example app's rule "
        "(exampleApp.enabled) already serves, so the adapter would answer with either query; give this rule another "
        "name.as, narrow its seriesQuery, or remove one of the rules"]
    assert parse_spec({"adapter": {"rules": [example]}}, SOURCE).adapter.rules[0] == EXAMPLE_APP_RULE


def test_a_cluster_rule_serving_a_default_rules_metric_is_a_config_error() -> None:
    catch_all = {"seriesQuery": '{namespace!="",__name__=~"kube_pod_.*"}', "resources": {"template": "<<.Resource>>"},
                 "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"}
    [problem] = spec_problems(catch_all)
    assert problem.startswith(f"{SOURCE}: adapter.rules[0].name: serves 'kube_pod_container_info', "
                              "'kube_pod_container_resource_limits', 'kube_pod_container_resource_requests' and 6 "
                              "more, ")
    assert "which upstream's default rule 4 (adapter.defaultRules) already serves" in problem
    assert parse_spec({"adapter": {"defaultRules": False, "rules": [catch_all]}}, SOURCE).adapter.default_rules is False


def test_the_adapter_rule_errors_come_from_the_cluster_file(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "x"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text(
        "adapter:\n  rules:\n  - seriesQuery: 'shop_orders_total{pod!=\"\"}'\n"
        "    resources: {template: <<.Resource>>}\n"
        "    metricsQuery: sum(rat(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)\n")
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'cluster.yaml'}: adapter.rules[0].metricsQuery: is not PromQL once the "
                              "adapter fills in its fields (unknown function with name 'rat')")


@pytest.mark.parametrize(("template", "filled"), [
    (GOOD, 'sum(rate(s{namespace="default",pod=~"a|b"}[2m])) by (pod)'),
    ('sum(s{namespace="<<index .LabelValuesByName "namespace">>"}) by (<<.GroupBy>>)',
     'sum(s{namespace="default"}) by (pod)'),
    ("sum(<<- .Series ->> {<<.LabelMatchers>>}) by (<<.GroupBy>>)", 'sum(s{namespace="default",pod=~"a|b"}) by (pod)'),
])
def test_the_adapter_template_fills_as_the_adapter_does(template: str, filled: str) -> None:
    assert fill_adapter_template(template, "s") == filled


def test_template_control_actions_are_not_modelled_and_an_unclosed_action_is_an_error() -> None:
    with pytest.raises(NotCheckable):
        fill_adapter_template("<<range .GroupBySlice>>x<<end>>", "s")
    with pytest.raises(TemplateError, match="opens a template action with << but never closes it with >>"):
        fill_adapter_template("sum(<<.Series)", "s")


# -- targets ---------------------------------------------------------------------------------------

def scaler(kind: str, name: str, target: str) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": "shop"},
            "spec": {"scaleTargetRef": {"name": target, **({"kind": "Deployment"} if kind != "ScaledObject" else {})}}}


def where(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def test_a_workload_scaled_by_an_hpa_and_a_scaled_object_is_a_problem() -> None:
    objects = [scaler("HorizontalPodAutoscaler", "web", "web"), scaler("ScaledObject", "web-keda", "web")]
    assert scaling_problems(objects, None, where=where) == [
        "ScaledObject/shop/web-keda: spec.scaleTargetRef: Deployment shop/web is already scaled by "
        "HorizontalPodAutoscaler shop/web; two autoscalers fight over its replicas: keep one (a ScaledObject creates "
        "its own HPA)"]


def test_a_scaler_target_must_be_rendered_or_declared_external() -> None:
    workloads = [{"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}]
    objects = [scaler("ScaledObject", "web", "web"), scaler("ScaledObject", "api", "api")]
    assert scaling_problems(objects, workloads, where=where) == [
        "ScaledObject/shop/api: spec.scaleTargetRef: Deployment shop/api is not in the rendered output; point it at "
        "a workload that is, or declare the target external"]
    assert scaling_problems(objects, workloads, external={("Deployment", "shop", "api")}, where=where) == []


def test_synth_refuses_a_workload_scaled_by_an_hpa_and_a_scaled_object(tmp_path: Path) -> None:
    cluster = load_cluster(CLUSTERS / "demo")
    files, stack = build_cluster(cluster, tmp_path)
    objects = [obj for _, rendered in files for obj in rendered]
    scaled_object = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                     "metadata": {"name": "podinfo-keda", "namespace": "promstack-example"},
                     "spec": {"scaleTargetRef": {"name": "podinfo"}, "triggers": []}}
    with pytest.raises(ConfigError) as caught:
        check_autoscaling(cluster, stack, [*objects, scaled_object])
    assert caught.value.problems == [
        "cluster demo: ScaledObject promstack-example/podinfo-keda: spec.scaleTargetRef: Deployment "
        "promstack-example/podinfo is already scaled by HorizontalPodAutoscaler promstack-example/podinfo; two "
        "autoscalers fight over its replicas: keep one (a ScaledObject creates its own HPA)"]
