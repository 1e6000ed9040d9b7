"""YAML text for files embedded in ConfigMaps: stable key order, no anchors, readable in review."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # &id001 / *id001 anchors are legal but unreadable in a pull request.
        return True


def dump(data: Any) -> str:
    """Keys in the order given (the order a reader expects), block style, no aliases."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
