"""The fleet view of the built-in dashboards: a ``cluster`` variable, and every query limited to it.

A cluster's own Prometheus stores no external labels, so its series have no ``cluster`` label and
the variable lists nothing there: it stays All (``.*``), which also matches a missing label, and
the dashboards show the local data as before. On the ``fleet`` datasource (the hub every cluster
remote-writes into) the variable lists the clusters and the panels show the one chosen.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import promql_parser

from promstack.content.catalog import render_grafana_query

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_VALUES = re.compile(r"^(\s*label_values\(\s*)(?P<selector>.+)(,\s*\w+\s*\)\s*)$", re.DOTALL)


def _selector_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(render_grafana_query(expr)), visit)
    return names


def _all_scoped(expr: str, label: str) -> bool:
    scoped = True

    def visit(node: promql_parser.Expr) -> None:
        nonlocal scoped
        if isinstance(node, promql_parser.VectorSelector):
            scoped &= any(m.name == label for m in node.matchers.matchers)

    promql_parser.walk(promql_parser.parse(render_grafana_query(expr)), visit)
    return scoped


def scope(expr: str, label: str, variable: str) -> str:
    """``expr`` with ``label=~"$variable"`` added to every vector selector (ValueError if some
    selector could not be reached, so a dashboard never silently mixes clusters), and ``label``
    to every ``on (...)`` join: two clusters may reuse an instance address. Both sides of a join
    must keep ``label`` (no aggregation without ``by (..., label)`` under one)."""
    matcher = f'{label}=~"${variable}"'
    names = _selector_names(expr)
    out, i = [], 0
    while i < len(expr):
        string = _STRING.match(expr, i)
        if string:
            out.append(string.group())
            i = string.end()
            continue
        if expr[i] == "{":  # a selector without a name, or the matchers of the name just copied
            out.append("{" + matcher + ("," if expr[i + 1:].lstrip()[:1] != "}" else ""))
            i += 1
            continue
        word = _IDENTIFIER.match(expr, i)
        if word and (i == 0 or not (expr[i - 1].isalnum() or expr[i - 1] in "_:$.")):
            out.append(word.group())
            i = word.end()
            rest = expr[i:].lstrip()
            if word.group() in names and not rest.startswith(("(", "{")):
                out.append("{" + matcher + "}")
            elif word.group() == "on" and rest.startswith("("):
                # A join matches within one cluster: two clusters may reuse an instance address.
                gap = len(expr[i:]) - len(rest)
                out.append(expr[i:i + gap] + "(" + label + ", ")
                i += gap + 1
            continue
        if word:
            out.append(word.group())
            i = word.end()
            continue
        out.append(expr[i])
        i += 1
    scoped = "".join(out)
    if not _all_scoped(scoped, label):
        raise ValueError(f"could not limit every selector of {expr!r} to ${variable}")
    return scoped


def with_cluster_variable(model: dict[str, Any], label: str, *, current: str | None = None) -> dict[str, Any]:
    """A copy of dashboard ``model`` with a ``cluster`` variable (values of ``label``; default All,
    or ``current``) after ``$datasource``, and every panel and variable query limited to it."""
    model = copy.deepcopy(model)
    variables = model.setdefault("templating", {}).setdefault("list", [])
    for variable in variables:
        if variable.get("type") == "query" and (match := _LABEL_VALUES.match(variable["query"])):
            variable["query"] = match[1] + scope(match["selector"], label, "cluster") + match[3]
    chosen = ({"selected": True, "text": current, "value": current} if current
              else {"selected": True, "text": "All", "value": "$__all"})
    cluster = {
        "type": "query", "name": "cluster", "label": "Cluster",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": f"label_values(up, {label})", "refresh": 2, "sort": 1, "multi": True, "includeAll": True,
        # All matches every cluster, and the series of a Prometheus that has no cluster label.
        "allValue": ".*", "current": chosen,
    }
    at = next((i + 1 for i, v in enumerate(variables) if v.get("type") == "datasource"), 0)
    variables.insert(at, cluster)
    for panel in [*model.get("panels", []), *(p for row in model.get("panels", []) for p in row.get("panels", []))]:
        for target in panel.get("targets", []):
            target["expr"] = scope(target["expr"], label, "cluster")
    return model
