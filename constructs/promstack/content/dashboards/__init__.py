"""Grafana dashboards for the stack, built in Python with grafana-foundation-sdk.

:func:`dashboards` returns ``{filename: json_text}`` for Grafana's file provisioning (one ConfigMap
key per file). Every dashboard has a stable uid, queries Prometheus through a ``$datasource``
variable that defaults to the provisioned datasource (uid ``prometheus``), and is rendered as
deterministic JSON (sorted keys, two-space indent). :func:`iter_queries` and
:func:`iter_variable_queries` let tests check every PromQL expression a dashboard ships.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from promstack.content.dashboards import custom_metrics, nodes, prometheus_health, workloads
from promstack.content.dashboards._common import DATASOURCE_UID, render, to_json_text
from promstack.content.dashboards.fleet import with_cluster_variable

__all__ = [
    "DASHBOARDS",
    "DATASOURCE_UID",
    "PanelQuery",
    "VariableQuery",
    "dashboard_models",
    "dashboards",
    "iter_queries",
    "iter_variable_queries",
]

#: uid -> builder of each dashboard. The uid is the dashboard's permanent address in Grafana
#: (links and bookmarks use it): never change one.
DASHBOARDS: Final[Mapping[str, Callable[[], dashboard_builders.Dashboard]]] = MappingProxyType(
    {
        nodes.UID: nodes.build,
        workloads.UID: workloads.build,
        custom_metrics.UID: custom_metrics.build,
        prometheus_health.UID: prometheus_health.build,
    }
)


@cache
def _models() -> dict[str, dict[str, Any]]:
    return {uid: render(build()) for uid, build in DASHBOARDS.items()}


def dashboard_models() -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON data (a copy: changing it changes nothing rendered)."""
    return copy.deepcopy(_models())


#: Stands for the cluster name in dashboards rendered once per fleet (``_texts``): it cannot occur
#: in a dashboard otherwise, and the JSON layout does not depend on the string it stands for.
_CURRENT_CLUSTER = "@@promstack-current-cluster@@"


@cache
def _texts(cluster_label: str | None, current: str | None) -> dict[str, str]:
    models = _models()
    if cluster_label:
        models = {uid: with_cluster_variable(model, cluster_label, current=current) for uid, model in models.items()}
    return {f"{uid}.json": to_json_text(model) for uid, model in sorted(models.items())}


def dashboards(*, cluster_label: str | None = None, cluster: str | None = None) -> dict[str, str]:
    """``{"<uid>.json": json_text}`` for every dashboard, sorted by file name. With a
    ``cluster_label`` (a fleet with a hub) each gets a ``cluster`` variable over that label, default
    All or ``cluster``, and every query is limited to it (see ``fleet.with_cluster_variable``).

    Rendered once per process and label, with the cluster's name filled in per cluster: rendering
    them took 40 ms, as long as the rest of a cluster's objects."""
    if not (cluster_label and cluster):
        return dict(_texts(cluster_label, None))
    name = json.dumps(cluster, ensure_ascii=False)[1:-1]
    texts = _texts(cluster_label, _CURRENT_CLUSTER)
    return {file: text.replace(_CURRENT_CLUSTER, name) for file, text in texts.items()}


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel: where it lives and its PromQL (with Grafana variables unexpanded)."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"dashboard {self.dashboard!r}, panel {self.panel!r}, query {self.ref_id}"


@dataclass(frozen=True)
class VariableQuery:
    """The series selector inside a ``label_values(<selector>, <label>)`` template variable query."""

    dashboard: str
    variable: str
    selector: str
    label: str

    def __str__(self) -> str:
        return f"dashboard {self.dashboard!r}, variable ${self.variable}"


def _panels(model: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def iter_queries() -> Iterator[PanelQuery]:
    """Every panel query of every dashboard, in dashboard then panel order."""
    for model in _models().values():
        for panel in _panels(model):
            for query in panel.get("targets", []):
                yield PanelQuery(model["title"], panel.get("title", ""), query.get("refId", ""), query["expr"])


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<selector>.+),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)


def iter_variable_queries() -> Iterator[VariableQuery]:
    """The selector of every ``label_values`` query variable (raises on any other query form)."""
    for model in _models().values():
        for variable in model.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            match = _LABEL_VALUES.match(variable["query"])
            if match is None:
                raise ValueError(
                    f"dashboard {model['title']!r}, variable ${variable['name']}: expected "
                    f"label_values(<selector>, <label>), got {variable['query']!r}"
                )
            yield VariableQuery(model["title"], variable["name"], match["selector"], match["label"])
