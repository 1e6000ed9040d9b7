"""Compile-time checks of what scales: run by synth on the rendered objects of each cluster.

Under prometheus-adapter (:func:`check_hpas`) every HPA's custom metric is served by an adapter
rule and its target exists; under KEDA (:func:`check_scaled_objects`) every ScaledObject's target
exists and each prometheus trigger queries the stack's own Prometheus with a query that parses.
A target in a namespace the stack does not render (a team's own workload) cannot be seen here.

A rule serves a metric when a series its seriesQuery selects is renamed to that metric by its
seriesFilters and name.matches/name.as. Series names come from the seriesQuery itself when it
names one metric, otherwise from the metric catalogs of the exporters in the stack.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from promstack.components.prometheus_adapter.rules import AdapterRule, promql_unquote
from promstack.config.autoscaling import ScalingTarget
from promstack.config.regex import NotRe2, compile_re2

_LITERAL_NAME = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|$)")
_NAME_MATCHER = re.compile(r'__name__\s*(=~|!~|=|!=)\s*"((?:[^"\\]|\\.)*)"')


def candidate_series(rule: AdapterRule, known_series: Iterable[str]) -> list[str]:
    """The series names a rule's seriesQuery can select."""
    literal = _LITERAL_NAME.match(rule.series_query)
    if literal:
        return [literal.group(1)]
    names = list(known_series)
    for op, value in _NAME_MATCHER.findall(rule.series_query):
        value = promql_unquote(value)
        if op == "=":
            names = [n for n in names if n == value]
        elif op == "!=":
            names = [n for n in names if n != value]
        else:  # PromQL regexes are fully anchored, and RE2 (linear time) as in Prometheus
            try:
                pattern = compile_re2(value)
            except NotRe2:  # AdapterRule refuses such a seriesQuery; Prometheus would select nothing
                return []
            keep = op == "=~"
            names = [n for n in names if (pattern.fullmatch(n) is not None) == keep]
    return names


#: served_metrics by (the rules as JSON, the known series): the clusters of a fleet share their
#: rules, so each distinct set is matched against the catalogs once per process, not per cluster.
_SERVED: dict[tuple[tuple[str, ...], frozenset[str]], frozenset[str]] = {}
_SERVED_MAX = 64


def served_metrics(rules: Sequence[AdapterRule], known_series: Iterable[str]) -> set[str]:
    known = frozenset(known_series)
    key = (tuple(rule.model_dump_json(by_alias=True) for rule in rules), known)
    if key not in _SERVED:
        if len(_SERVED) >= _SERVED_MAX:
            _SERVED.clear()
        _SERVED[key] = _served_metrics(rules, known)
    return set(_SERVED[key])


def _served_metrics(rules: Sequence[AdapterRule], known_series: frozenset[str]) -> frozenset[str]:
    known = sorted(known_series)
    served = set()
    for rule in rules:
        for series in candidate_series(rule, known):
            metric = rule.metric_name(series)
            if metric:
                served.add(metric)
    return frozenset(served)


def serving_rule(metric: str, rules: Sequence[AdapterRule],
                 known_series: Iterable[str]) -> tuple[AdapterRule, str] | None:
    """The first rule (in the adapter's order) that serves ``metric``, with the series it comes from."""
    known = sorted(set(known_series))
    for rule in rules:
        for series in candidate_series(rule, known):
            if rule.metric_name(series) == metric:
                return rule, series
    return None


def _missing_target(where: str, obj: dict[str, Any], workloads: Iterable[dict[str, Any]],
                    namespaces: Iterable[str] | None) -> str | None:
    meta, ref = obj["metadata"], obj["spec"]["scaleTargetRef"]
    namespace, kind = meta.get("namespace"), ref.get("kind", "Deployment")
    if namespaces is not None and namespace not in set(namespaces):
        return None  # a team's own namespace: its workloads are not in the render
    if any((w["kind"], w["metadata"].get("namespace"), w["metadata"]["name"]) == (kind, namespace, ref["name"])
           for w in workloads):
        return None
    return (f"{where}: spec.scaleTargetRef: {kind} {ref['name']} does not exist in the rendered stack; point it "
            "at a workload that does")


def check_hpas(hpas: Iterable[dict[str, Any]], workloads: Iterable[dict[str, Any]], rules: Sequence[AdapterRule],
               known_series: Iterable[str], *, cluster: str, namespaces: Iterable[str] | None = None) -> list[str]:
    """Problems, one line each, naming the cluster, the HPA and the metric or target. With
    ``namespaces`` (those the stack renders), targets elsewhere are not looked for."""
    served = served_metrics(rules, known_series)
    workloads = list(workloads)
    problems = []
    for hpa in hpas:
        meta, spec = hpa["metadata"], hpa["spec"]
        where = f"cluster {cluster}: HorizontalPodAutoscaler {meta.get('namespace')}/{meta['name']}"
        if (missing := _missing_target(where, hpa, workloads, namespaces)) is not None:
            problems.append(missing)
        for i, metric in enumerate(spec.get("metrics", [])):
            if metric["type"] not in ("Pods", "Object"):
                continue
            name = metric[metric["type"].lower()]["metric"]["name"]
            if name not in served:
                close = difflib.get_close_matches(name, sorted(served), n=1)
                hint = f"did you mean {close[0]!r}? or add" if close else "add"
                problems.append(f"{where}: spec.metrics[{i}].{metric['type'].lower()}.metric.name: no adapter rule "
                                f"serves {name!r}; {hint} a rule to adapter.rules whose name.as produces it")
    return problems


def check_scaled_objects(scaled_objects: Iterable[dict[str, Any]], workloads: Iterable[dict[str, Any]], *,
                         server_address: str, cluster: str, namespaces: Iterable[str] | None = None) -> list[str]:
    """Problems, one line each, of KEDA ScaledObjects: a target that does not exist (in the
    ``namespaces`` the stack renders), a trigger that is not ``prometheus``, queries another server
    than ``server_address`` (the stack's Prometheus) or whose query does not parse."""
    from promstack.config.autoscaling import query_problem

    workloads = list(workloads)
    problems = []
    for obj in scaled_objects:
        meta = obj["metadata"]
        where = f"cluster {cluster}: ScaledObject {meta.get('namespace')}/{meta['name']}"
        if (missing := _missing_target(where, obj, workloads, namespaces)) is not None:
            problems.append(missing)
        for i, trigger in enumerate(obj["spec"].get("triggers", [])):
            at = f"{where}: spec.triggers[{i}]"
            if trigger.get("type") != "prometheus":
                problems.append(f"{at}.type: {trigger.get('type')!r} is not 'prometheus'; promstack scales on "
                                "its Prometheus only")
                continue
            data = trigger.get("metadata", {})
            if data.get("serverAddress") != server_address:
                problems.append(f"{at}.metadata.serverAddress: {data.get('serverAddress')!r} is not the stack's "
                                f"Prometheus; use {server_address}")
            if (problem := query_problem(str(data.get("query", "")))) is not None:
                problems.append(f"{at}.metadata.query: {problem}")
    return problems


def check_pod_metrics(targets: Iterable[tuple[str, ScalingTarget]], rules: Sequence[AdapterRule],
                      known_series: Iterable[str], *, source: str) -> list[str]:
    """Under KEDA, a ``podMetric`` becomes the query of the adapter rule that serves it: one line
    ``<source>: <field path>: ...`` per podMetric no rule serves, naming the closest served metric.
    ``targets`` are (field path in ``source``, target) pairs."""
    known = sorted(set(known_series))
    served: set[str] | None = None
    problems = []
    for path, target in targets:
        for j, metric in enumerate(target.metrics):
            if metric.pod_metric is None or serving_rule(metric.pod_metric, rules, known) is not None:
                continue
            served = served if served is not None else served_metrics(rules, known)
            close = difflib.get_close_matches(metric.pod_metric, sorted(served), n=1)
            hint = f"did you mean {close[0]!r}? or add" if close else "add"
            problems.append(f"{source}: {path}.metrics[{j}].podMetric: no adapter rule serves {metric.pod_metric!r}, "
                            f"so KEDA has no query for it; {hint} a rule to adapter.rules whose name.as produces it, "
                            "or give a query and threshold instead")
    return problems
