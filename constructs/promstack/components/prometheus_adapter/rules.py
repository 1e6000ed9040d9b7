"""prometheus-adapter discovery rules as typed objects.

The field names are the adapter's own (seriesQuery, metricsQuery, name.as ...), so a rule from the
adapter's documentation pastes into cluster.yaml unchanged. See the adapter's docs/config.md.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from promstack.config.model import Model


class SeriesFilter(Model):
    """Keep (``is``) or drop (``isNot``) discovered series by a regular expression on their name."""

    is_: str | None = Field(default=None, alias="is")
    is_not: str | None = Field(default=None, alias="isNot")

    @model_validator(mode="after")
    def _exactly_one(self) -> SeriesFilter:
        if (self.is_ is None) == (self.is_not is None):
            raise ValueError("give exactly one of 'is' or 'isNot'")
        return self


class ResourceOverride(Model):
    resource: str
    group: str | None = None


class RuleResources(Model):
    """How series labels map to Kubernetes resources: a ``template`` or explicit ``overrides``."""

    template: str | None = None
    overrides: dict[str, ResourceOverride] | None = None


class RuleName(Model):
    """``matches`` selects part of the series name; ``as`` names the metric (default: first group)."""

    matches: str = ""
    as_: str = Field(default="", alias="as")

    @field_validator("matches")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
        return value


class AdapterRule(Model):
    """One entry of the adapter's ``rules:`` list."""

    series_query: str = Field(alias="seriesQuery", min_length=1)
    series_filters: tuple[SeriesFilter, ...] = Field(default=(), alias="seriesFilters", strict=False)
    resources: RuleResources
    name: RuleName = RuleName()
    metrics_query: str = Field(alias="metricsQuery", min_length=1)

    def to_adapter(self) -> dict[str, Any]:
        """The rule as the adapter's config.yaml spells it."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def metric_name(self, series_name: str) -> str | None:
        """The custom metric this rule serves for a series name, or None if it does not match.

        Mirrors the adapter's naming: series filters first, then ``name.matches``; ``name.as``
        may use $1-style group references and defaults to ``$1`` (or the whole name).
        """
        for series_filter in self.series_filters:
            if series_filter.is_ is not None and not re.search(series_filter.is_, series_name):
                return None
            if series_filter.is_not is not None and re.search(series_filter.is_not, series_name):
                return None
        # The adapter treats an empty ``matches`` as ".*" (the whole series name).
        match = re.search(self.name.matches or ".*", series_name)
        if match is None:
            return None
        template = self.name.as_ or ("$1" if match.groups() else "$0")
        return re.sub(r"\$\{?(\d+)\}?", lambda m: match.group(int(m.group(1))) or "", template)


_CONTAINER_SERIES = '{__name__=~"^container_.*",container!="POD",namespace!="",pod!=""}'
_NAMESPACED_SERIES = '{namespace!="",__name__!~"^container_.*"}'
_POD_NAMESPACE = RuleResources(
    overrides={"namespace": ResourceOverride(resource="namespace"), "pod": ResourceOverride(resource="pod")}
)
_BY_RESOURCE = RuleResources(template="<<.Resource>>")
_RATE = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[5m])) by (<<.GroupBy>>)"


def default_rules() -> tuple[AdapterRule, ...]:
    """Upstream's default rule set (the prometheus-adapter chart's six ``rules.default`` rules)."""
    return (
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)_seconds_total$"),
            metrics_query='sum(rate(<<.Series>>{<<.LabelMatchers>>,container!="POD"}[5m])) by (<<.GroupBy>>)',
        ),
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            series_filters=(SeriesFilter(is_not="^container_.*_seconds_total$"),),
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)_total$"),
            metrics_query='sum(rate(<<.Series>>{<<.LabelMatchers>>,container!="POD"}[5m])) by (<<.GroupBy>>)',
        ),
        AdapterRule(
            series_query=_CONTAINER_SERIES,
            series_filters=(SeriesFilter(is_not="^container_.*_total$"),),
            resources=_POD_NAMESPACE,
            name=RuleName(matches="^container_(.*)$"),
            metrics_query='sum(<<.Series>>{<<.LabelMatchers>>,container!="POD"}) by (<<.GroupBy>>)',
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
