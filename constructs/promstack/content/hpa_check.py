"""Compile-time check: every HPA's custom metric is served by an adapter rule, and its target exists.

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


def check_hpas(hpas: Iterable[dict[str, Any]], workloads: Iterable[dict[str, Any]], rules: Sequence[AdapterRule],
               known_series: Iterable[str], *, cluster: str) -> list[str]:
    """Problems, one line each, naming the cluster, the HPA and the metric or target."""
    served = served_metrics(rules, known_series)
    targets = {(w["kind"], w["metadata"].get("namespace"), w["metadata"]["name"]) for w in workloads}
    problems = []
    for hpa in hpas:
        meta, spec = hpa["metadata"], hpa["spec"]
        where = f"cluster {cluster}: HorizontalPodAutoscaler {meta.get('namespace')}/{meta['name']}"
        ref = spec["scaleTargetRef"]
        if (ref["kind"], meta.get("namespace"), ref["name"]) not in targets:
            problems.append(f"{where}: spec.scaleTargetRef: {ref['kind']} {ref['name']} does not exist in the "
                            "rendered stack; point it at a workload that does")
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
