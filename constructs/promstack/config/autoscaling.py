"""``autoscaling:`` in cluster.yaml: which provider serves custom metrics to the cluster's autoscalers.

``prometheus-adapter`` (the default) renders the adapter and its ``custom.metrics.k8s.io``
APIService; ``keda`` renders neither and expects KEDA (a prerequisite, like the Sealed Secrets
controller) to scale workloads from ScaledObjects with ``prometheus`` triggers.
"""

from __future__ import annotations

from typing import Literal

from promstack.config.model import Model

Provider = Literal["prometheus-adapter", "keda"]


class AutoscalingConfig(Model):
    """Custom-metric autoscaling. Default: the provider is prometheus-adapter."""

    provider: Provider = "prometheus-adapter"
