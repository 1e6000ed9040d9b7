"""The stack's Namespace (default ``monitoring``)."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import Component, StackContext
from promstack.components.objects import KubeObject


class Namespace(Component):
    """The namespace every namespaced object of the stack lives in: ``context.namespace``.

    Pod Security admission enforces ``privileged`` because node-exporter needs the host's network
    and PID namespaces and read-only host mounts; every other pod meets ``restricted``, which is
    what ``warn`` and ``audit`` report against. ``namespace_object`` is the L1 Namespace.
    """

    def __init__(self, scope: Construct, id_: str = "namespace", *, context: StackContext = StackContext()) -> None:
        super().__init__(scope, id_, context=context, component="namespace", image=None)
        metadata = self.meta(self.stack_namespace, cluster_scoped=True)
        self.namespace_object = KubeObject.of(self, "namespace", k8s.KubeNamespaceProps(
            metadata=k8s.ObjectMeta(
                name=metadata.name,
                labels={
                    **(metadata.labels or {}),
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
        ))
