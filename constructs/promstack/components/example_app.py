"""An example workload scaled on a custom metric: the point of the stack, end to end."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import Component, StackContext, empty_dir, hardened_container, http_probe, mount
from promstack.components.objects import KubeObject
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.rules import EXAMPLE_APP_METRIC, EXAMPLE_APP_RULE
from promstack.config import names, versions
from promstack.config.autoscaling import ScalingMetric, ScalingTarget, WorkloadRef
from promstack.config.cluster import ExampleAppConfig, resources
from promstack.config.versions import Image

NAME = names.EXAMPLE_APP
PORT = 9898
#: The custom metric the HPA scales on, served by RULE from podinfo's http_requests_total.
METRIC = EXAMPLE_APP_METRIC
RULE = EXAMPLE_APP_RULE


def scaling_target(settings: ExampleAppConfig) -> ScalingTarget:
    """podinfo's autoscaling target: ``METRIC`` per pod near ``targetAverageValue``."""
    return ScalingTarget(
        workload=WorkloadRef(kind="Deployment", name=NAME, namespace=settings.namespace),
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        metrics=(ScalingMetric(pod_metric=METRIC, target_average_value=settings.target_average_value),),
    )


class ExampleApp(Component):
    """podinfo in its own namespace (``settings.namespace``), scraped through pod annotations, scaled
    on the per-pod metric ``http_requests_per_second`` (served by ``RULE``): ``scaling_target`` is
    the autoscaling target the stack renders as an HPA or a KEDA ScaledObject (components.autoscaling).
    ``prometheus``, when given, records that it scrapes podinfo (for NetworkPolicies).
    ``deployment`` is the object (KubeObject)."""

    def __init__(self, scope: Construct, id_: str = NAME, *, settings: ExampleAppConfig = ExampleAppConfig(),
                 context: StackContext = StackContext(), image: Image = versions.PODINFO,
                 prometheus: Prometheus | None = None) -> None:
        config = settings
        super().__init__(scope, id_, context=context, component="example", image=image, namespace=config.namespace)
        KubeObject.of(self, "namespace", k8s.KubeNamespaceProps(metadata=k8s.ObjectMeta(
            name=config.namespace,
            labels={**self.labels, "pod-security.kubernetes.io/enforce": "restricted"},
        )))
        self.service_account(automount=False)
        container = hardened_container(
            name=NAME,
            image=image,
            resources=resources("10m", "32Mi", "200m", "64Mi"),
            args=["./podinfo", f"--port={PORT}", "--level=info"],
            ports=[k8s.ContainerPort(name="http", container_port=PORT, protocol="TCP")],
            volume_mounts=[mount("data", "/data", read_only=False)],
            readiness=http_probe("/readyz", "http", initial_delay=2),
            liveness=http_probe("/healthz", "http", initial_delay=5),
        )
        self.deployment = KubeObject.of(self, "deployment", k8s.KubeDeploymentProps(
            metadata=self.meta(),
            spec=k8s.DeploymentSpec(
                # No replicas: the HPA owns the count, so a sync never fights it.
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container],
                    volumes=[empty_dir("data")],
                    annotations={"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                                 "prometheus.io/path": "/metrics"},
                ),
            ),
        ))
        self.add_service({"http": 80})
        if prometheus is not None:
            prometheus.scrape_annotated(self, "http")
        #: What to scale and on which metric; the stack's Autoscaling renders it for the cluster's provider.
        self.scaling_target = scaling_target(config)
