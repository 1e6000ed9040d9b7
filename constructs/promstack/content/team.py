"""A team's own Prometheus rule files and Grafana dashboards: the checks on their text.

:mod:`promstack.config.inputs` reads the files (``clusters/<name>/rules/*.rules.yaml``,
``clusters/<name>/dashboards/*.json`` and the same under ``clusters/_shared/``) and hands each
file's text here. Each check returns the problems it found, one line each,
``<file>: <field>: <problem>; <fix>``, never raising on any input.

What is checked, before anything renders: a rule file is a YAML ``groups:`` document whose groups
have a ``name`` and ``rules``, whose rules are a ``record`` or an ``alert`` with an ``expr`` that
parses as PromQL (promql-parser, as for the built-in rules), whose durations are Prometheus
durations and whose alerts carry ``labels.severity`` from :data:`SEVERITIES`. A dashboard is a JSON
object with a ``uid`` and a ``title`` whose panel queries (``panels[].targets[].expr``, rows'
panels too) parse as PromQL once Grafana's interval variables are filled in
(:func:`promstack.content.catalog.render_grafana_query`, as for the built-in dashboards). Metric
names are NOT checked against the catalogs: a team's own services export metrics promstack does
not know. What spans files (unique names, clashes with the built-ins, the ConfigMap size) is
checked by the reader, which sees them all; ``promtool check rules`` in the gate checks the
rendered rule files once more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from promstack.config.model import ConfigError, duration_ms, show
from promstack.config.yamlio import parse_yaml
from promstack.content.catalog import PromQLError, parse, render_grafana_query

#: Severities a team alert may carry. ``critical`` and ``warning`` reach the receivers that
#: ``alertmanager.routing`` names; ``info`` reaches the default receiver (``null`` unless set), so
#: it shows in Alertmanager and Grafana without paging anyone. ``none`` is the Watchdog's alone.
SEVERITIES: Final = ("critical", "warning", "info")
RULE_FILE_SUFFIX: Final = ".rules.yaml"
DASHBOARD_SUFFIX: Final = ".json"
#: A file name that is also a ConfigMap key (``[-._a-zA-Z0-9]+``, at most 253 characters).
_FILE_NAME = re.compile(r"[A-Za-z0-9][-._A-Za-z0-9]{0,252}")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: Grafana's dashboard uid: at most 40 letters, digits, '-' and '_'.
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
#: Keys Prometheus 3 accepts in a rule group and in a rule (it refuses any other).
_GROUP_KEYS: Final = frozenset({"name", "interval", "query_offset", "limit", "labels", "rules"})
_RULE_KEYS: Final = frozenset({"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"})
_MAX_SHOWN_PROBLEM = 120


def is_file_name(name: str, suffix: str) -> bool:
    """Whether ``name`` ends in ``suffix`` and can be a ConfigMap key as it is."""
    return len(name) > len(suffix) and name.endswith(suffix) and _FILE_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class RuleFileFacts:
    """What other files may clash with: group, alert and recorded series names, in file order."""

    groups: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    records: tuple[str, ...] = ()


@dataclass
class _Problems:
    source: str
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, problem: str) -> None:
        self.lines.append(f"{self.source}: {where}: {problem}")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN_PROBLEM else text[:_MAX_SHOWN_PROBLEM] + "..."


def _key(key: Any) -> str:
    """A key for a field path: as written when it is a plain name, else quoted."""
    return key if isinstance(key, str) and _LABEL_NAME.fullmatch(key) else show(key)


def _promql_problem(expr: str) -> str | None:
    try:
        parse(expr)
    except PromQLError as exc:
        reason = str(exc).removeprefix("invalid PromQL (").split("): ", 1)[0]
        return f"not valid PromQL ({_one_line(reason)}); fix the expression"
    return None


def _check_labels(problems: _Problems, where: str, value: Any, *, names: re.Pattern[str] | None) -> None:
    if not isinstance(value, dict):
        problems.add(where, f"must be a mapping of names to text, got {show(value)}; write `name: value` lines")
        return
    for key, text in value.items():
        if not isinstance(key, str) or (names is not None and not names.fullmatch(key)):
            problems.add(f"{where}.{_key(key)}", "is not a label name; use letters, digits and '_'")
        elif not isinstance(text, str):
            problems.add(f"{where}.{key}", f"must be text, got {show(text)}; quote it")


def _check_duration(problems: _Problems, where: str, value: Any) -> None:
    if not isinstance(value, str) or (value != "0" and duration_ms(value) is None):
        problems.add(where, f"{show(value)} is not a Prometheus duration; write e.g. 30s, 5m, 1h")


def _check_rule(problems: _Problems, where: str, rule: Any, facts: dict[str, list[str]]) -> None:
    if not isinstance(rule, dict):
        problems.add(where, f"must be a mapping (record or alert, expr ...), got {show(rule)}")
        return
    for key in sorted(set(rule) - _RULE_KEYS, key=str):
        problems.add(f"{where}.{_key(key)}", f"unknown key; a rule has {', '.join(sorted(_RULE_KEYS))}")
    kinds = [k for k in ("record", "alert") if k in rule]
    if len(kinds) != 1:
        problems.add(where, "needs exactly one of record and alert; a rule records a series or fires an alert")
        return
    kind = kinds[0]
    name = rule[kind]
    if not isinstance(name, str) or not (_METRIC_NAME if kind == "record" else _LABEL_NAME).fullmatch(name):
        problems.add(f"{where}.{kind}", f"{show(name)} is not a valid {'series' if kind == 'record' else 'alert'} "
                     "name; use letters, digits and '_'" + (" and ':'" if kind == "record" else ""))
    else:
        facts["records" if kind == "record" else "alerts"].append(name)
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        problems.add(f"{where}.expr", "missing or not text; give the PromQL expression")
    elif (problem := _promql_problem(expr)) is not None:
        problems.add(f"{where}.expr", problem)
    if "labels" in rule:
        _check_labels(problems, f"{where}.labels", rule["labels"], names=_LABEL_NAME)
    if kind == "record":
        for key in ("for", "keep_firing_for", "annotations"):
            if key in rule:
                problems.add(f"{where}.{key}", "only an alert has it; remove it from the recording rule")
        return
    for key in ("for", "keep_firing_for"):
        if key in rule:
            _check_duration(problems, f"{where}.{key}", rule[key])
    if "annotations" in rule:
        _check_labels(problems, f"{where}.annotations", rule["annotations"], names=None)
    labels = rule.get("labels")
    severity = labels.get("severity") if isinstance(labels, dict) else None
    if severity not in SEVERITIES:
        problem = "missing" if severity is None else f"{show(severity)} is not allowed"
        problems.add(f"{where}.labels.severity", f"{problem}; give one of {', '.join(SEVERITIES)} (routing follows it)")


def check_rule_file(text: str, source: str) -> tuple[RuleFileFacts, list[str]]:
    """The names a rule file defines and the problems of its text (empty when it is good)."""
    try:
        data = parse_yaml(text, source)
    except ConfigError as exc:
        return RuleFileFacts(), exc.problems
    problems = _Problems(source)
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        problems.add("groups", "missing; a rule file is a YAML document `groups: [{name: ..., rules: [...]}]`")
        return RuleFileFacts(), problems.lines
    for key in sorted(set(data) - {"groups"}, key=str):
        problems.add(_key(key), "unknown key; a rule file holds only groups")
    facts: dict[str, list[str]] = {"groups": [], "alerts": [], "records": []}
    for i, group in enumerate(data["groups"]):
        where = f"groups[{i}]"
        if not isinstance(group, dict):
            problems.add(where, f"must be a mapping with name and rules, got {show(group)}")
            continue
        for key in sorted(set(group) - _GROUP_KEYS, key=str):
            problems.add(f"{where}.{_key(key)}", f"unknown key; a group has {', '.join(sorted(_GROUP_KEYS))}")
        name = group.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add(f"{where}.name", "missing or not text; name the group")
        elif name in facts["groups"]:
            problems.add(f"{where}.name", f"{show(name)} names an earlier group too; give each group its own name")
        else:
            facts["groups"].append(name)
        for key in ("interval", "query_offset"):
            if key in group:
                _check_duration(problems, f"{where}.{key}", group[key])
        if "labels" in group:
            _check_labels(problems, f"{where}.labels", group["labels"], names=_LABEL_NAME)
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            problems.add(f"{where}.rules", "missing or empty; list the group's rules")
            continue
        for j, rule in enumerate(rules):
            _check_rule(problems, f"{where}.rules[{j}]", rule, facts)
    return RuleFileFacts(*(tuple(facts[k]) for k in ("groups", "alerts", "records"))), problems.lines


def _panels(model: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    panels = model.get("panels", [])
    if not isinstance(panels, list):
        yield f"{path}panels", panels
        return
    for i, panel in enumerate(panels):
        yield f"{path}panels[{i}]", panel
        if isinstance(panel, dict) and "panels" in panel:  # panels inside a collapsed row
            yield from _panels(panel, f"{path}panels[{i}].")


def check_dashboard(text: str, source: str) -> tuple[str | None, str | None, list[str]]:
    """The dashboard's uid and title (None where missing) and the problems of its text."""
    problems = _Problems(source)
    try:
        model = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, None, [f"{source}: line {exc.lineno}: not valid JSON: {_one_line(exc.msg)}; fix it "
                            "(export it from Grafana with Share > Export > Save to file)"]
    except RecursionError:
        return None, None, [f"{source}: (file): JSON nested too deeply to read; flatten it"]
    if not isinstance(model, dict):
        return None, None, [f"{source}: (top level): must be a JSON object (a dashboard), got {show(model)}"]
    uid, title = model.get("uid"), model.get("title")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        problems.add("uid", f"{'missing' if uid is None else show(uid) + ' is not a dashboard uid'}; give a stable "
                     "uid of at most 40 letters, digits, '-' and '_' (links and bookmarks use it)")
        uid = None
    if not isinstance(title, str) or not title.strip():
        problems.add("title", "missing or empty; give the dashboard a title")
        title = None
    for where, panel in _panels(model):
        if not isinstance(panel, dict):
            problems.add(where, f"must be a JSON object, got {show(panel)}")
            continue
        targets = panel.get("targets", [])
        if not isinstance(targets, list):
            problems.add(f"{where}.targets", "must be a list of queries")
            continue
        for k, target in enumerate(targets):
            if not isinstance(target, dict) or "expr" not in target:
                continue  # not a Prometheus query
            expr = target["expr"]
            if not isinstance(expr, str):
                problems.add(f"{where}.targets[{k}].expr", f"must be text, got {show(expr)}")
            elif expr.strip() and (problem := _promql_problem(render_grafana_query(expr))) is not None:
                problems.add(f"{where}.targets[{k}].expr", problem + " (template variables such as $namespace "
                             "only inside a label matcher's quoted value)")
    return uid, title, problems.lines
