"""Every image the stack runs, pinned in one place (kube-prometheus' versions file, in Python).

Bumping a version for every cluster is a change here (and a review of what the new version
changes); one cluster can run another tag, repository or a digest through ``images:`` in its
cluster.yaml (promstack.config.images), and the fleet can pull through a registry mirror.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    """An image by repository and tag, pinned to ``digest`` (``sha256:<64 hex>``) when given."""

    repository: str
    tag: str
    digest: str | None = None

    @property
    def ref(self) -> str:
        """What a container's ``image`` field holds: ``repo:tag``, or ``repo:tag@sha256:...``."""
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    @property
    def version(self) -> str:
        """The app.kubernetes.io/version label value: the tag without a leading v."""
        return self.tag.removeprefix("v")


NODE_EXPORTER = Image("quay.io/prometheus/node-exporter", "v1.12.1")
PROMETHEUS = Image("quay.io/prometheus/prometheus", "v3.14.0")
KUBE_STATE_METRICS = Image("registry.k8s.io/kube-state-metrics/kube-state-metrics", "v2.20.0")
PROMETHEUS_ADAPTER = Image("registry.k8s.io/prometheus-adapter/prometheus-adapter", "v0.12.0")
ALERTMANAGER = Image("quay.io/prometheus/alertmanager", "v0.34.1")
#: Watches Alertmanager's mounted configuration and secrets and POSTs /-/reload when they change.
CONFIG_RELOADER = Image("quay.io/prometheus-operator/prometheus-config-reloader", "v0.89.0")
GRAFANA = Image("docker.io/grafana/grafana", "13.1.3")
#: The example workload: podinfo counts requests in http_requests_total{status}.
PODINFO = Image("ghcr.io/stefanprodan/podinfo", "6.9.2")
