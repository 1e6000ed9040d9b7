"""Container image references as the container runtime reads them (the grammar of the Docker
``distribution/reference`` package), in one place for the config models and the validation gate.

A reference is ``[registry/]path[:tag][@digest]``. The first ``/``-separated part is a registry
host only when it contains ``.`` or ``:`` or is ``localhost``; otherwise the image lives on Docker
Hub (``docker.io``), and a single-name path gets ``library/`` in front: ``busybox`` is
``docker.io/library/busybox``, ``grafana/grafana`` is ``docker.io/grafana/grafana``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
#: Docker Hub's legacy names, which the runtime reads as docker.io.
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: The one digest algorithm promstack renders: sha256, 64 lowercase hex digits.
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
#: A repository (an image name without tag or digest), registry host optional.
REPOSITORY = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
#: A registry host with an optional path under it (a mirror prefix): the host is required.
REGISTRY_PREFIX = re.compile(rf"{_DOMAIN}(?:/{_PATH_COMPONENT})*")
#: Longest repository name the runtime accepts.
MAX_NAME = 255


def is_registry_host(part: str) -> bool:
    """Whether the first ``/``-separated part of a name is a registry host (not a Docker Hub path)."""
    return "." in part or ":" in part or part == "localhost"


def split_registry(repository: str) -> tuple[str, str]:
    """``(registry, path)`` of a repository, Docker Hub's implicit parts made explicit:
    ``busybox`` -> ``("docker.io", "library/busybox")``."""
    first, _, rest = repository.partition("/")
    if rest and is_registry_host(first):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, repository
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return registry, path


def mirrored(repository: str, mirror: str) -> str:
    """``repository`` pulled through ``mirror`` (``host[:port][/path]``): the registry part is
    replaced by the mirror, the path kept (``quay.io/prometheus/prometheus`` through
    ``mirror.example/proxy`` is ``mirror.example/proxy/prometheus/prometheus``; ``busybox`` is
    ``mirror.example/proxy/library/busybox``)."""
    return f"{mirror}/{split_registry(repository)[1]}"


@dataclass(frozen=True)
class Reference:
    """A parsed reference; ``tag`` and ``digest`` are None when absent."""

    repository: str
    tag: str | None
    digest: str | None


def parse(image: str) -> Reference | str:
    """The parts of ``image``, or why it is no image reference (one phrase, for a message)."""
    name, at, digest = image.partition("@")
    if at and "@" in digest:
        return "has more than one '@'"
    if at and not DIGEST.fullmatch(digest):
        return "has a malformed digest: write @sha256: and the 64 lowercase hex digits the registry reports"
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1:]
        if not TAG.fullmatch(tag):
            return f"has a malformed tag {tag[:40]!r}: use letters, digits, '_', '.' and '-' (at most 128)"
    if len(name) > MAX_NAME or not REPOSITORY.fullmatch(name):
        return "has a malformed repository name: lowercase path parts after an optional registry host"
    return Reference(name, tag, digest if at else None)
