"""YAML in and out: the one reader of input files (cluster.yaml, fleet.yaml) and the one writer of
YAML text embedded in ConfigMaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from promstack.config.model import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(file: Path, *, if_missing: str) -> Any:
    """Parsed YAML (duplicate keys refused), or a ConfigError naming the file, the line and the fix."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: (file): missing; {if_missing}"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{file}: {where}: not valid YAML: {problem}"]) from None


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # &id001 / *id001 anchors are legal but unreadable in a pull request.
        return True


def dump(data: Any) -> str:
    """YAML text for files embedded in ConfigMaps: keys in the order given (the order a reader
    expects), block style, no anchors, readable in review."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
