"""Shared building blocks for the dashboards: the datasource, variables, panels and JSON rendering.

Dashboards are built with Grafana's own builder library (``grafana-foundation-sdk``), so field names
and enum values come from Grafana's schema rather than from hand-typed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard

#: The uid of the Prometheus datasource Grafana is provisioned with; the ``datasource`` variable's default.
DATASOURCE_UID = "prometheus"
#: Every panel and variable query goes through the ``datasource`` variable.
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${datasource}")
#: Tag shared by every promstack dashboard (Grafana's dashboard list filters on it).
TAG = "promstack"

_ALL = dashboard.VariableOption(selected=True, text="All", value="$__all")


def datasource_variable() -> dashboard_builders.DatasourceVariable:
    """``$datasource``: any Prometheus datasource, defaulting to the provisioned one."""
    return (
        dashboard_builders.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(dashboard.VariableOption(selected=True, text=DATASOURCE_UID, value=DATASOURCE_UID))
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    hidden: bool = False,
) -> dashboard_builders.QueryVariable:
    """A multi-select ``label_values(...)`` variable defaulting to All (Grafana expands All to a regex)."""
    variable = (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(_ALL)
    )
    if hidden:
        variable = variable.hide(dashboard.VariableHide.HIDE_VARIABLE)
    return variable


def target(expr: str, legend: str = "__auto", *, instant: bool = False) -> prometheus.Dataquery:
    """A Prometheus query; refIds are assigned per panel by :func:`render`."""
    query = prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)
    return query.instant() if instant else query.range()


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
    repeat: str | None = None,
) -> timeseries.Panel:
    """A time series panel with a table legend (mean, max, last) sorted by the last value."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
            .sort_by("Last *")
            .sort_desc(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if repeat is not None:
        panel = panel.repeat(repeat).repeat_direction("h").max_per_row(4)
    return panel


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    width: int = 6,
    height: int = 4,
) -> stat.Panel:
    """A single-value panel reduced to the last value."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def new_dashboard(uid: str, title: str, description: str) -> dashboard_builders.Dashboard:
    """A dashboard with the shared tag, time range, refresh and a shared crosshair."""
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .time("now-3h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .readonly()
        # Grafana's built-in "Annotations & Alerts" query, spelled out: Grafana expects annotations.list.
        .annotation(
            dashboard_builders.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(common.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .type("dashboard")
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
        )
    )


def render(builder: dashboard_builders.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data, with stable panel ids and per-panel refIds A, B, C ..."""
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for panel_id, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = panel_id
        for index, query in enumerate(panel.get("targets", [])):
            query["refId"] = chr(ord("A") + index)
    return model


def to_json_text(model: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
