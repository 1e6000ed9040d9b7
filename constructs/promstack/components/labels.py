"""The one place labels come from: app.kubernetes.io/{name,instance,version,component,part-of,managed-by}."""

from __future__ import annotations

PART_OF = "promstack"
MANAGED_BY = "promstack"


def selector_labels(name: str, instance: str) -> dict[str, str]:
    """Selector labels: name and instance only, so an upgrade never touches an immutable selector."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def standard_labels(name: str, instance: str, *, component: str, version: str | None = None) -> dict[str, str]:
    """All recommended labels; ``version`` is omitted for objects that belong to no image."""
    labels = {
        **selector_labels(name, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    return dict(sorted(labels.items()))
