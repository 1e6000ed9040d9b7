"""An example workload scaled by an HPA on a custom metric: the point of the stack, end to end."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import Component, StackContext, empty_dir, hardened_container, http_probe, mount
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.rules import AdapterRule, ResourceOverride, RuleName, RuleResources
from promstack.config import versions
from promstack.config.cluster import ExampleAppConfig, resources
from promstack.config.versions import Image

NAME = "podinfo"
PORT = 9898
#: The custom metric the HPA scales on, served by RULE from podinfo's http_requests_total.
METRIC = "http_requests_per_second"
RULE = AdapterRule(
    series_query='http_requests_total{namespace!="",pod!=""}',
    resources=RuleResources(overrides={"namespace": ResourceOverride(resource="namespace"),
                                       "pod": ResourceOverride(resource="pod")}),
    name=RuleName(matches="^(.*)_total$", as_="${1}_per_second"),
    metrics_query="sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
)


class ExampleApp(Component):
    """podinfo in its own namespace (``settings.namespace``), scraped through pod annotations, with
    an autoscaling/v2 HPA on the Pods metric ``http_requests_per_second`` (served by ``RULE``).
    ``prometheus``, when given, records that it scrapes podinfo (for NetworkPolicies).
    ``deployment`` and ``hpa`` are the L1 objects."""

    def __init__(self, scope: Construct, id_: str = NAME, *, settings: ExampleAppConfig = ExampleAppConfig(),
                 context: StackContext = StackContext(), image: Image = versions.PODINFO,
                 prometheus: Prometheus | None = None) -> None:
        config = settings
        super().__init__(scope, id_, context=context, component="example", image=image, namespace=config.namespace)
        k8s.KubeNamespace(self, "namespace", metadata=k8s.ObjectMeta(
            name=config.namespace,
            labels={**self.labels, "pod-security.kubernetes.io/enforce": "restricted"},
        ))
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
        self.deployment = k8s.KubeDeployment(
            self, "deployment",
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
        )
        self.add_service({"http": 80})
        if prometheus is not None:
            prometheus.scrape_annotated(self, "http")
        self.hpa = k8s.KubeHorizontalPodAutoscalerV2(
            self, "hpa",
            metadata=self.meta(),
            spec=k8s.HorizontalPodAutoscalerSpecV2(
                scale_target_ref=k8s.CrossVersionObjectReferenceV2(api_version="apps/v1", kind="Deployment",
                                                                   name=self.app_name),
                min_replicas=config.min_replicas,
                max_replicas=config.max_replicas,
                metrics=[k8s.MetricSpecV2(
                    type="Pods",
                    pods=k8s.PodsMetricSourceV2(
                        metric=k8s.MetricIdentifierV2(name=METRIC),
                        target=k8s.MetricTargetV2(type="AverageValue",
                                                  average_value=k8s.Quantity.from_string(config.target_average_value)),
                    ),
                )],
            ),
        )
