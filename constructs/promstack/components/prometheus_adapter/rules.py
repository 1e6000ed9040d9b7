"""prometheus-adapter discovery rules as typed objects.

The field names are the adapter's own (seriesQuery, metricsQuery, name.as ...), so a rule from the
adapter's documentation pastes into cluster.yaml unchanged. See the adapter's docs/config.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from promstack.config.model import Model, show, text_problem
from promstack.config.regex import compile_re2, re2_regex

# PromQL and Go templates: whitespace (newlines from a YAML block scalar) is fine, controls are not.
_QUERY_MAX_LENGTH = 4096
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A Kubernetes resource or group as the adapter's RESTMapper reads it (it lowercases them).
_RESOURCE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?")
# name.as: metric-name characters around $1 / ${1} / $name group references.
_GROUP_REFERENCE = re.compile(r"\$(\{[a-zA-Z0-9_]+\}|[a-zA-Z0-9_]+)")
_METRIC_CHARS = re.compile(r"[a-zA-Z0-9_:]*")
# A label regex matcher in a PromQL selector: label, =~ or !~, and the double-quoted pattern.
_REGEX_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~)\s*"((?:[^"\\]|\\.)*)"')
# $1 / ${1} in name.as.
_NUMBERED_GROUP = re.compile(r"\$\{?(\d+)\}?")


def _query(value: str) -> str:
    problem = "is empty" if not value.strip() else text_problem(value, max_length=_QUERY_MAX_LENGTH, multiline=True)
    if problem:
        raise ValueError(f"{show(value)} {problem}; write a PromQL selector or query template")
    return value


def _series_query(value: str) -> str:
    """A seriesQuery whose label regex matchers (``=~`` / ``!~``) all compile with RE2, as Prometheus needs."""
    _query(value)
    for _label, _op, pattern in promql_regex_matchers(value):
        compile_re2(pattern)
    return value


def promql_regex_matchers(query: str) -> list[tuple[str, str, str]]:
    """``(label, op, pattern)`` of each double-quoted ``label=~"..."`` / ``label!~"..."`` matcher, unescaped."""
    return [(label, op, promql_unquote(body)) for label, op, body in _REGEX_MATCHER.findall(query)]


def promql_unquote(body: str) -> str:
    """The text of a double-quoted PromQL string's body."""
    # PromQL strings are Go strings: \\ and \" are escapes (as in "a\\.b", the regex a\.b).
    return body.encode("utf-8", "backslashreplace").decode("unicode_escape", "replace") if "\\" in body else body


def _template(value: str) -> str:
    problem = text_problem(value, max_length=256)
    if problem:
        raise ValueError(f"{show(value)} {problem}")
    return value


def _label_name(value: str) -> str:
    if len(value) > 128 or not _LABEL_NAME.fullmatch(value):
        raise ValueError(f"{show(value)} is not a Prometheus label name; use letters, digits and '_'")
    return value


def _resource(value: str) -> str:
    if len(value) > 253 or not _RESOURCE.fullmatch(value):
        raise ValueError(f"{show(value)} is not a Kubernetes resource; write e.g. pod, namespace or deployment")
    return value


def _group(value: str) -> str:
    if value and (len(value) > 253 or not _RESOURCE.fullmatch(value)):
        raise ValueError(f"{show(value)} is not an API group; write e.g. apps, or \"\" for the core group")
    return value


def _metric_template(value: str) -> str:
    if len(value) > 256 or not _METRIC_CHARS.fullmatch(_GROUP_REFERENCE.sub("", value)):
        raise ValueError(f"{show(value)} is not a metric name; use letters, digits, '_', ':' and $1 or ${{1}}")
    return value


#: A PromQL selector or query template (``seriesQuery``, ``metricsQuery``): any printable text and whitespace.
Query = Annotated[str, AfterValidator(_query)]
#: A regular expression on series names (``is``, ``isNot``, ``name.matches``).
Regex = Annotated[str, AfterValidator(re2_regex)]
#: ``seriesQuery``: a PromQL selector whose regex matchers are RE2.
SeriesQuery = Annotated[str, AfterValidator(_series_query)]
LabelName = Annotated[str, AfterValidator(_label_name)]


class SeriesFilter(Model):
    """Keep (``is``) or drop (``isNot``) discovered series by a regular expression on their name."""

    is_: Regex | None = Field(default=None, alias="is")
    is_not: Regex | None = Field(default=None, alias="isNot")

    @model_validator(mode="after")
    def _exactly_one(self) -> SeriesFilter:
        if (self.is_ is None) == (self.is_not is None):
            raise ValueError("give exactly one of 'is' or 'isNot'")
        return self


class ResourceOverride(Model):
    """The Kubernetes resource a series label names (``resource: pod``), in ``group`` ("" or absent: core)."""

    resource: Annotated[str, AfterValidator(_resource)]
    group: Annotated[str, AfterValidator(_group)] | None = None


class RuleResources(Model):
    """How series labels map to Kubernetes resources: a ``template`` or explicit ``overrides``."""

    template: Annotated[str, AfterValidator(_template)] | None = None
    overrides: dict[LabelName, ResourceOverride] | None = Field(default=None, max_length=20)


class RuleName(Model):
    """``matches`` selects part of the series name; ``as`` names the metric (default: first group)."""

    matches: Regex = ""
    as_: Annotated[str, AfterValidator(_metric_template)] = Field(default="", alias="as")


class AdapterRule(Model):
    """One entry of the adapter's ``rules:`` list."""

    series_query: SeriesQuery = Field(alias="seriesQuery", min_length=1)
    series_filters: tuple[SeriesFilter, ...] = Field(default=(), alias="seriesFilters", max_length=20, strict=False)
    resources: RuleResources
    name: RuleName = RuleName()
    metrics_query: Query = Field(alias="metricsQuery", min_length=1)

    def to_adapter(self) -> dict[str, Any]:
        """The rule as the adapter's config.yaml spells it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def metric_name(self, series_name: str) -> str | None:
        """The custom metric this rule serves for a series name, or None if it does not match.

        Mirrors the adapter's naming: series filters first, then ``name.matches``; ``name.as``
        may use $1-style group references and defaults to ``$1`` (or the whole name).
        """
        # Every user pattern runs on RE2 (linear time), as in the adapter: none can backtrack.
        for series_filter in self.series_filters:
            if series_filter.is_ is not None and not compile_re2(series_filter.is_).search(series_name):
                return None
            if series_filter.is_not is not None and compile_re2(series_filter.is_not).search(series_name):
                return None
        # The adapter treats an empty ``matches`` as ".*" (the whole series name).
        match = compile_re2(self.name.matches or ".*").search(series_name)
        if match is None:
            return None
        found = match
        groups = len(found.groups())
        template = self.name.as_ or ("$1" if groups else "$0")
        # A group the pattern does not have expands to nothing, as Go's regexp.Expand does.
        return _NUMBERED_GROUP.sub(
            lambda m: (found.group(int(m.group(1))) or "") if int(m.group(1)) <= groups else "", template)


# cAdvisor reports each pod's own cgroup as container="" next to its containers: summed with them,
# every container_* metric is about twice the pod's real usage. Upstream's rules drop only the pause
# container (container="POD"); these also drop container="", as the recording rules do.
_CONTAINERS_ONLY = 'container!="",container!="POD",pod!=""'
_CONTAINER_SERIES = f'{{__name__=~"^container_.*",{_CONTAINERS_ONLY},namespace!=""}}'
_NAMESPACED_SERIES = '{namespace!="",__name__!~"^container_.*"}'
_POD_NAMESPACE = RuleResources(
    overrides={"namespace": ResourceOverride(resource="namespace"), "pod": ResourceOverride(resource="pod")}
)
_BY_RESOURCE = RuleResources(template="<<.Resource>>")
_RATE = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[5m])) by (<<.GroupBy>>)"


def default_rules() -> tuple[AdapterRule, ...]:
    """Upstream's default rule set (the prometheus-adapter chart's six ``rules.default`` rules), except
    that the three ``container_*`` rules also drop pod-level cgroup series (``container=""``)."""
    return (
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)_seconds_total$"),
            metrics_query=f"sum(rate(<<.Series>>{{<<.LabelMatchers>>,{_CONTAINERS_ONLY}}}[5m])) by (<<.GroupBy>>)",
        ),
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            series_filters=(SeriesFilter(is_not="^container_.*_seconds_total$"),),
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)_total$"),
            metrics_query=f"sum(rate(<<.Series>>{{<<.LabelMatchers>>,{_CONTAINERS_ONLY}}}[5m])) by (<<.GroupBy>>)",
        ),
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            series_filters=(SeriesFilter(is_not="^container_.*_total$"),),
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)$"),
            metrics_query=f"sum(<<.Series>>{{<<.LabelMatchers>>,{_CONTAINERS_ONLY}}}) by (<<.GroupBy>>)",
        ),
        AdapterRule(
            series_query=_NAMESPACED_SERIES,
            series_filters=(SeriesFilter(is_not=".*_total$"),),
            resources=_BY_RESOURCE,
            name=RuleName(matches=""),
            metrics_query="sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        ),
        AdapterRule(
            series_query=_NAMESPACED_SERIES,
            series_filters=(SeriesFilter(is_not=".*_seconds_total"),),
            resources=_BY_RESOURCE,
            name=RuleName(matches="^(.*)_total$"),
            metrics_query=_RATE,
        ),
        AdapterRule(
            series_query=_NAMESPACED_SERIES,
            resources=_BY_RESOURCE,
            name=RuleName(matches="^(.*)_seconds_total$"),
            metrics_query=_RATE,
        ),
    )


#: The custom metric the example app's HPA scales on, served by EXAMPLE_APP_RULE from podinfo's
#: http_requests_total. Here, not in components/example_app.py, so the autoscaling checks (and
#: `promstack check-autoscaling`) read the rule without starting the jsii runtime.
EXAMPLE_APP_METRIC = "http_requests_per_second"
EXAMPLE_APP_RULE = AdapterRule(
    series_query='http_requests_total{namespace!="",pod!=""}',
    resources=_POD_NAMESPACE,
    name=RuleName(matches="^(.*)_total$", as_="${1}_per_second"),
    metrics_query="sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
)
