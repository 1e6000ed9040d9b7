"""A relabel evaluator with Prometheus' semantics (model/relabel/relabel.go), for tests.

Kubernetes service discovery needs an API server, so no Prometheus binary can run the rendered
jobs here. ``relabel`` applies ``relabel_configs`` as Prometheus does: source label values joined by
``separator`` (missing labels are empty), the regex fully anchored (``^(?s:regex)$``), ``keep``/
``drop`` on a match, and ``replace`` expanding ``$1``/``${1}`` Go-style into ``target_label`` and
deleting the label when the result is empty. tests/components/test_scrape_ownership.py pins it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

Labels = dict[str, str]

_DEFAULTS = {"separator": ";", "regex": "(.*)", "replacement": "$1", "action": "replace"}
_TEMPLATE = re.compile(r"\$(?:\{(\w+)\}|(\w+)|(\$))")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's regexp.Expand: $name / ${name} (the longest run of word characters), $$ is a literal $;
    an unknown or unmatched group expands to nothing."""

    def group(ref: re.Match[str]) -> str:
        if ref.group(3):
            return "$"
        name = ref.group(1) or ref.group(2)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _TEMPLATE.sub(group, template)


def relabel(labels: Mapping[str, str], configs: Sequence[Mapping[str, Any]]) -> Labels | None:
    """The target's labels after ``configs``, or None when a keep or drop removed the target."""
    result = dict(labels)
    for raw in configs:
        config = {**_DEFAULTS, **raw}
        action = config["action"]
        regex = re.compile(f"^(?s:{config['regex']})$")
        value = config["separator"].join(result.get(name, "") for name in config.get("source_labels", []))
        match = regex.match(value)
        if action == "keep":
            if match is None:
                return None
        elif action == "drop":
            if match is not None:
                return None
        elif action == "replace":
            if match is None:
                continue
            target = _expand(config["target_label"], match)
            replaced = _expand(config["replacement"], match)
            if replaced:
                result[target] = replaced
            else:
                result.pop(target, None)
        elif action in ("labeldrop", "labelkeep"):
            # Matched against each label name; source_labels play no part.
            result = {name: value for name, value in result.items()
                      if (regex.match(name) is not None) == (action == "labelkeep")}
        else:
            raise NotImplementedError(f"relabel action {action!r}: teach the evaluator before using it")
    return result
