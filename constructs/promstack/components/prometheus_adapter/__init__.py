"""prometheus-adapter: the construct (``adapter``), its typed rules (``rules``) and its serving TLS (``tls``).

``rules`` is plain pydantic (the cluster model loads it), so the construct is imported lazily:
loading a cluster file never starts the jsii runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promstack.components.prometheus_adapter.adapter import AdapterApiServices, PrometheusAdapter

__all__ = ["AdapterApiServices", "PrometheusAdapter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from promstack.components.prometheus_adapter import adapter

        return getattr(adapter, name)
    raise AttributeError(name)
