"""Compile-time checks of autoscaling queries: PromQL a scaler (a KEDA ``prometheus`` trigger, an
adapter rule's ``metricsQuery``) would send to Prometheus, checked before anything is deployed.

:func:`query_problems` is the check of one scaler query: it parses (promql-parser), it returns a
single value (an aggregation to one series, a literal or ``scalar()``), it names only metrics a
catalog of the stack lists or the workload declares, and each range window holds at least two
scrapes. :func:`adapter_rule_problems` runs the same checks on the cluster's ``adapter.rules``
after filling in the adapter's template fields, and refuses two rules serving one metric.
:func:`scaling_problems` finds scalers whose target is missing and workloads scaled twice.

Every problem is one line, ``<where>: <what is wrong>; <fix>``, ``where`` given by the caller.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import promql_parser

from promstack.components.prometheus_adapter.rules import AdapterRule
from promstack.config.model import show
from promstack.content.catalog import known_metric_names, selector_names
from promstack.content.hpa_check import candidate_series

if TYPE_CHECKING:
    from promstack.config.autoscaling import ScalingTarget

#: Aggregations whose result has one series when they group by nothing.
_TO_ONE = {"sum", "avg", "max", "min", "count", "group", "stddev", "stdvar", "quantile"}
#: Functions whose result is one value (or none) whatever their argument holds.
_ONE_VALUE = {"scalar", "vector", "time", "absent", "absent_over_time", "pi"}


@dataclass(frozen=True)
class _Many:
    """Why an expression returns many series, and what turns it into one."""

    why: str
    fix: str


def seconds_text(seconds: float) -> str:
    """A Prometheus duration for ``seconds``: ``30s``, ``1m``, ``1m30s``, ``2h``, ``500ms``."""
    ms = round(seconds * 1000)
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _delta_text(delta: timedelta) -> str:
    return seconds_text(delta.total_seconds())


class TooComplex(Exception):
    """A query with more than MAX_NODES operators and operands."""


#: Most operators and operands of a checked query. promql-parser's Python objects copy their whole
#: subtree on every attribute read, so reading a tree costs its size times its depth: this bounds it.
MAX_NODES = 200


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooComplex


def _many_series(node: Any, budget: _Budget | None = None) -> _Many | None:
    """None when ``node`` returns at most one series (or a scalar), else why it returns more."""
    budget = budget or _Budget()
    budget.spend()
    if isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
        return None
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        return _many_series(node.expr, budget)
    if isinstance(node, promql_parser.AggregateExpr):
        op = str(node.op)
        modifier = node.modifier
        if op not in _TO_ONE:
            return _Many(f"{op}(...) keeps several series", "aggregate its result with sum(...), max(...) or avg(...)")
        if modifier is None or (modifier.type == promql_parser.AggModifierType.By and not modifier.labels):
            return None
        labels = ", ".join(modifier.labels)
        if modifier.type == promql_parser.AggModifierType.By:
            return _Many(f"{op} by ({labels}) returns one series per {labels}",
                         f"drop by ({labels}) so {op}(...) returns one series")
        return _Many(f"{op} without ({labels}) keeps every other label", f"drop without ({labels})")
    if isinstance(node, promql_parser.Call):
        name = node.func.name
        if name in _ONE_VALUE or node.func.return_type == promql_parser.ValueType.Scalar:
            return None
        if name == "histogram_quantile" and len(node.args) == 2:
            inner = node.args[1]
            while isinstance(inner, promql_parser.ParenExpr):
                inner = inner.expr
            if (isinstance(inner, promql_parser.AggregateExpr) and str(inner.op) in _TO_ONE
                    and inner.modifier is not None and inner.modifier.type == promql_parser.AggModifierType.By
                    and set(inner.modifier.labels) <= {"le"}):
                return None  # the buckets of one histogram: one quantile
            return _many_series(inner, budget)
        for arg in node.args:
            if isinstance(arg, promql_parser.MatrixSelector):
                return _Many(f"{name}(...) returns one series per series of {_selector_text(arg.vector_selector)}",
                             "wrap it in sum(...), avg(...) or max(...) without by")
            if isinstance(arg, promql_parser.SubqueryExpr):
                return _many_series(arg.expr, budget)
            if not isinstance(arg, promql_parser.NumberLiteral | promql_parser.StringLiteral):
                found = _many_series(arg, budget)
                if found:
                    return found
        return None
    if isinstance(node, promql_parser.BinaryExpr):
        return _many_series(node.lhs, budget) or _many_series(node.rhs, budget)
    if isinstance(node, promql_parser.VectorSelector):
        return _Many(f"selects every series of {_selector_text(node)} without aggregating them",
                     "wrap it in sum(...), avg(...) or max(...) without by")
    if isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
        return _Many("is a range vector, which no scaler reads",
                     "apply rate(...) or an *_over_time(...) function and aggregate it with sum(...)")
    return None


def _selector_text(selector: Any) -> str:
    return show(selector.name or selector.prettify(), 60)


def _children(node: Any) -> list[Any]:
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr, *([node.param] if node.param is not None else [])]
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        return [node.expr]
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    return []


def _walk(expr: Any) -> tuple[set[str], list[tuple[str, timedelta]]]:
    """Metric names the expression selects (names and ``__name__="..."``) and its range windows."""
    names: set[str] = set()
    ranges: list[tuple[str, timedelta]] = []
    # Our own walk, not promql_parser.walk: that one rebuilds each subtree per level and takes
    # minutes on a query nested a few hundred levels deep.
    pending = [expr]
    budget = _Budget()
    while pending:
        node = pending.pop()
        budget.spend()
        if isinstance(node, promql_parser.VectorSelector):
            names.update(selector_names(node))
        elif isinstance(node, promql_parser.MatrixSelector):
            ranges.append((node.vector_selector.name or node.vector_selector.prettify(), node.range))
        elif isinstance(node, promql_parser.SubqueryExpr) and node.range is not None:
            ranges.append(("a subquery", node.range))
        pending.extend(reversed(_children(node)))
    return names, ranges


#: Deepest nesting of (), [] and {} a checked query may have; real queries stay far below it.
MAX_NESTING = 32
#: Longest query checked, as long as cluster.yaml allows its queries to be.
MAX_QUERY_LENGTH = 4096


def nesting(query: str) -> int:
    """How deeply ``query`` nests brackets outside its quoted strings."""
    depth = deepest = 0
    quote = ""
    escaped = False
    for char in query:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


_TOO_COMPLEX = f"has more than {MAX_NODES} operators and operands, more than this check reads; simplify it"


#: Most names, numbers and operators of a checked query, counted before it is parsed (see MAX_NODES).
MAX_TOKENS = 300
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*|[0-9.]+|[-+*/%^<>=!]+")


def _size_problem(query: str) -> str | None:
    if len(query) > MAX_QUERY_LENGTH:
        return f"is {len(query)} characters long, more than the {MAX_QUERY_LENGTH} checked; shorten it"
    if len(_TOKEN.findall(_STRING.sub('""', query))) > MAX_TOKENS:
        return f"has more than {MAX_TOKENS} names, numbers and operators, more than this check reads; simplify it"
    if nesting(query) > MAX_NESTING:
        return f"nests brackets more than {MAX_NESTING} deep, more than this check reads; simplify it"
    return None


def parse_problem(query: str) -> tuple[Any, str | None]:
    """``(expression, None)``, or ``(None, the parser's reason)`` for a query that is not PromQL."""
    try:
        return promql_parser.parse(query), None
    except ValueError as exc:
        return None, str(exc) or "invalid PromQL"


def unknown_metric_problem(name: str, known: Collection[str], *, where: str, fix: str) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{where}: metric {show(name)} is exported by no component of the stack; {hint}{fix}"


def window_problem(what: str, window: timedelta, scrape_interval_seconds: float, *, where: str) -> str | None:
    """A problem when ``window`` holds fewer than two scrapes (shorter than twice the interval)."""
    if window.total_seconds() >= 2 * scrape_interval_seconds:
        return None
    least = seconds_text(2 * scrape_interval_seconds)
    return (f"{where}: the range [{_delta_text(window)}] over {what} is shorter than twice the scrape interval "
            f"({seconds_text(scrape_interval_seconds)}), so it often holds fewer than two samples and rate() "
            f"and friends return nothing; use at least [{least}]")


def query_problems(query: str, *, known_metrics: Collection[str], scrape_interval_seconds: float, where: str,
                   undeclared_fix: str = "correct the name, or declare the metric among the workload's own metrics",
                   ) -> list[str]:
    """Problems of one scaler query, each ``<where>: <problem>; <fix>`` (empty when it is fine).

    The query must parse as PromQL; return one series (an aggregation without ``by``, a literal,
    ``scalar()`` or ``vector()``, or arithmetic of those); name only metrics in ``known_metrics``
    (the catalogs' and the workload's declared metrics: :func:`scaler_known_metrics`), a typo
    getting a "did you mean"; and use range windows of at least twice ``scrape_interval_seconds``.
    """
    too_big = _size_problem(query)
    if too_big:
        return [f"{where}: the query {too_big}"]
    expr, reason = parse_problem(query)
    if expr is None:
        return [f"{where}: {show(query)} is not PromQL ({reason}); fix the query"]
    try:
        many = _many_series(expr)
        names, ranges = _walk(expr)
    except TooComplex:
        return [f"{where}: the query {_TOO_COMPLEX}"]
    problems = []
    if many is not None:
        problems.append(f"{where}: the query {many.why}, but a scaler needs one value; {many.fix}")
    known = set(known_metrics)
    problems += [unknown_metric_problem(name, known, where=where, fix=undeclared_fix)
                 for name in sorted(names - known)]
    for what, window in ranges:
        problem = window_problem(show(what), window, scrape_interval_seconds, where=where)
        if problem:
            problems.append(problem)
    return problems


def scaler_known_metrics(declared: Iterable[str] = ()) -> frozenset[str]:
    """The metrics a scaler query may name: every catalog's series and the workload's ``declared`` ones."""
    return known_metric_names() | frozenset(declared)


# -- adapter rules ---------------------------------------------------------------------------------

#: The fields of the adapter's metricsQuery template (prometheus-adapter pkg/naming/metrics_query.go,
#: queryTemplateArgs), as the adapter fills them for pods ``a`` and ``b`` in namespace ``default``.
ADAPTER_TEMPLATE_FIELDS = ("Series", "LabelMatchers", "LabelValuesByName", "GroupBy", "GroupBySlice")
_GROUP_BY = "pod"
_LABEL_VALUES = {"namespace": "default", _GROUP_BY: "a|b"}
# A template action: <<.Field>>, <<index .LabelValuesByName "label">>, with Go's <<- and ->> trims.
_ACTION = re.compile(r"\s*<<-\s|<<", re.DOTALL)
_ACTION_BODY = re.compile(r"(.*?)(?:\s->>\s*|>>)", re.DOTALL)
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_INDEX = re.compile(r'index\s+\.LabelValuesByName\s+"([^"\\]*)"')


class TemplateError(ValueError):
    """A metricsQuery template the adapter cannot fill (an unknown field, an unclosed action)."""


class NotCheckable(Exception):
    """A valid template action (range, if, with ...) whose output this check does not model."""


def fill_adapter_template(template: str, series: str) -> str:
    """``template`` with the adapter's fields filled in for ``series``, as the adapter's Build does.

    Raises TemplateError for what the adapter itself would refuse (an unknown field, ``<<`` without
    ``>>``) and NotCheckable for control actions (``<<range>>``, ``<<if>>``) it would run.
    """
    values = {"Series": series, "LabelMatchers": 'namespace="default",pod=~"a|b"', "GroupBy": _GROUP_BY,
              "GroupBySlice": f"[{_GROUP_BY}]"}  # Go prints a []string as [a b]
    out, pos = [], 0
    while (start := _ACTION.search(template, pos)) is not None:
        out.append(template[pos:start.start()])
        body = _ACTION_BODY.match(template, start.end())
        if body is None:
            raise TemplateError(f"{show(template[start.start():], 30)} opens a template action with << but never "
                                "closes it with >>; close it or remove the <<")
        action = body.group(1).strip()
        pos = body.end()
        if (index := _INDEX.fullmatch(action)) is not None:
            out.append(_LABEL_VALUES.get(index.group(1), ""))
            continue
        field = _FIELD.fullmatch(action)
        if field is None:
            raise NotCheckable(action)
        if field.group(1) not in values:
            known = ", ".join(f"<<.{name}>>" for name in ADAPTER_TEMPLATE_FIELDS)
            close = difflib.get_close_matches(field.group(1), ADAPTER_TEMPLATE_FIELDS, n=1)
            hint = f"did you mean <<.{close[0]}>>? " if close else ""
            raise TemplateError(f"<<{action}>> is no field of the adapter's query template; {hint}"
                                f"the adapter fills {known}")
        out.append(values[field.group(1)])
    out.append(template[pos:])
    return "".join(out)


def _grouping_problem(expr: Any) -> str | None:
    """An aggregation at the top that drops the label the adapter matches objects by."""
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    if not isinstance(expr, promql_parser.AggregateExpr):
        return None
    modifier = expr.modifier
    if modifier is not None and modifier.type == promql_parser.AggModifierType.By and _GROUP_BY in modifier.labels:
        return None
    if modifier is not None and modifier.type == promql_parser.AggModifierType.Without and (
            _GROUP_BY not in modifier.labels):
        return None
    return (f"{expr.op}(...) aggregates away the label of the object the adapter answers for, so every pod "
            f"gets no value; group by (<<.GroupBy>>)")


def metrics_query_problems(rule: AdapterRule, *, known_metrics: Collection[str], scrape_interval_seconds: float,
                           where: str) -> list[str]:
    """Problems of one adapter rule's metricsQuery: it must fill and parse, keep one series per
    object (``by (<<.GroupBy>>)``), name known metrics and use windows of at least two scrapes."""
    literal = [n for n in candidate_series(rule, ()) if n]
    series = literal[0] if literal else "series_of_the_rule"
    try:
        query = fill_adapter_template(rule.metrics_query, series)
    except TemplateError as exc:
        return [f"{where}: {exc}"]
    except NotCheckable:
        return []  # a control action: valid for the adapter, its output not modelled here
    too_big = _size_problem(query)
    if too_big:
        return [f"{where}: the filled-in query {too_big}"]
    expr, reason = parse_problem(query)
    if expr is None:
        return [f"{where}: is not PromQL once the adapter fills in its fields ({reason}): {show(query, 100)}; "
                "fix the query"]
    try:
        names, ranges = _walk(expr)
    except TooComplex:
        return [f"{where}: the filled-in query {_TOO_COMPLEX}"]
    problems = []
    grouping = _grouping_problem(expr)
    if grouping:
        problems.append(f"{where}: {grouping}")
    known = set(known_metrics) | {series}
    problems += [unknown_metric_problem(name, known, where=where,
                                        fix="correct the name or use <<.Series>>, the series the seriesQuery found")
                 for name in sorted(names - known)]
    for what, window in ranges:
        problem = window_problem(show(what if what != series else "<<.Series>>"), window, scrape_interval_seconds,
                                 where=where)
        if problem:
            problems.append(problem)
    return problems


def _served_by(fixed_rules: Sequence[tuple[str, AdapterRule]], series_names: Iterable[str]) -> dict[str, str]:
    """Each metric the rules serve from ``series_names``, and the description of the first rule serving it."""
    names = sorted(series_names)
    served: dict[str, str] = {}
    for what, rule in fixed_rules:
        for series in candidate_series(rule, names):
            metric = rule.metric_name(series)
            if metric:
                served.setdefault(metric, what)
    return served


# The stack's own rules serve the same metrics from the catalogs on every load: computed once per
# set of rules (defaults on or off, example app on or off), not on every cluster.yaml read.
_FIXED_SERVED: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


def adapter_rule_problems(rules: Sequence[AdapterRule], *, fixed_rules: Sequence[tuple[str, AdapterRule]] = (),
                          scrape_interval_seconds: float, source: str) -> list[str]:
    """Problems of a cluster's ``adapter.rules``, each ``<source>: adapter.rules[N].<field>: ...; fix``.

    ``fixed_rules`` are the rules the stack adds itself (upstream's defaults, the example app's),
    each with a description; a cluster rule serving a metric one of them or an earlier cluster
    rule serves is an error: the adapter would answer for that metric with either query.
    """
    if not rules:
        return []
    problems = []
    catalog = known_metric_names()
    key = tuple((what, rule.model_dump_json()) for what, rule in fixed_rules)
    if key not in _FIXED_SERVED and len(_FIXED_SERVED) < 16:
        _FIXED_SERVED[key] = _served_by(fixed_rules, catalog)
    served_by = dict(_FIXED_SERVED.get(key) or _served_by(fixed_rules, catalog))
    literal = {n for r in (*rules, *(r for _, r in fixed_rules)) for n in candidate_series(r, ())}
    for metric, what in _served_by(fixed_rules, literal - catalog).items():
        served_by.setdefault(metric, what)
    known_series = catalog | literal
    for i, rule in enumerate(rules):
        where = f"{source}: adapter.rules[{i}]"
        problems += metrics_query_problems(rule, known_metrics=known_metric_names(),
                                           scrape_interval_seconds=scrape_interval_seconds,
                                           where=f"{where}.metricsQuery")
        mine = sorted({m for s in candidate_series(rule, known_series) if (m := rule.metric_name(s))})
        clashes: dict[str, list[str]] = {}
        for metric in mine:
            if metric in served_by:
                clashes.setdefault(served_by[metric], []).append(metric)
        for other, metrics in clashes.items():
            shown = ", ".join(show(m) for m in metrics[:3]) + (f" and {len(metrics) - 3} more" if len(metrics) > 3
                                                                else "")
            problems.append(f"{where}.name: serves {shown}, which {other} already serves, so the adapter would "
                            "answer with either query; give this rule another name.as, narrow its seriesQuery, "
                            "or remove one of the rules")
        for metric in mine:
            served_by.setdefault(metric, f"adapter.rules[{i}]")
    return problems


# -- targets ---------------------------------------------------------------------------------------

#: The kinds a scaler's scaleTargetRef may name (KEDA's default kind is Deployment).
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
Target = tuple[str, str, str]  # kind, namespace, name


def scaler_target(obj: dict[str, Any]) -> Target | None:
    """``(kind, namespace, name)`` an HPA or ScaledObject scales, or None when it names none."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    ref = spec.get("scaleTargetRef") if isinstance(spec, dict) else None
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        return None
    kind = ref.get("kind", "Deployment" if obj.get("kind") == "ScaledObject" else None)
    return str(kind), str((meta or {}).get("namespace") or ""), ref["name"]


def scaling_problems(scalers: Iterable[dict[str, Any]], workloads: Iterable[dict[str, Any]] | None,
                     *, external: Collection[Target] = (), where: Callable[[dict[str, Any]], str]) -> list[str]:
    """Scalers (HPAs, ScaledObjects) whose target is neither among ``workloads`` nor declared
    ``external`` (skipped when ``workloads`` is None), and workloads that two scalers scale."""
    problems = []
    present = None if workloads is None else {
        (str(w.get("kind")), str(w.get("metadata", {}).get("namespace") or ""), str(w.get("metadata", {}).get("name")))
        for w in workloads}
    first: dict[Target, dict[str, Any]] = {}
    for scaler in scalers:
        target = scaler_target(scaler)
        if target is None:
            continue
        kind, namespace, name = target
        if present is not None and target not in present and target not in external:
            problems.append(f"{where(scaler)}: spec.scaleTargetRef: {kind} {namespace}/{name} is not in the rendered "
                            "output; point it at a workload that is, or declare the target external")
        if target in first:
            other = first[target]
            problems.append(
                f"{where(scaler)}: spec.scaleTargetRef: {kind} {namespace}/{name} is already scaled by "
                f"{other.get('kind')} {namespace}/{other.get('metadata', {}).get('name')}; two autoscalers fight "
                "over its replicas: keep one (a ScaledObject creates its own HPA)")
        else:
            first[target] = scaler
    return problems


def target_query_problems(targets: Sequence[ScalingTarget], *, scrape_interval_seconds: float,
                          source: str) -> list[str]:
    """The scaler-query checks (:func:`query_problems`) of every ``query`` metric of a cluster's
    ``autoscaling.targets``, each ``<source>: autoscaling.targets[i].metrics[j].query: ...; fix``.
    A query may name the stack's exporters' metrics and the target's ``declaredMetrics``."""
    problems = []
    for i, target in enumerate(targets):
        known: frozenset[str] | None = None
        for j, metric in enumerate(target.metrics):
            if metric.query is None:
                continue
            known = known if known is not None else scaler_known_metrics(target.declared_metrics)
            problems += query_problems(
                metric.query, known_metrics=known, scrape_interval_seconds=scrape_interval_seconds,
                where=f"{source}: autoscaling.targets[{i}].metrics[{j}].query",
                undeclared_fix=f"correct the name, or list the workload's own series in "
                               f"autoscaling.targets[{i}].declaredMetrics")
    return problems
