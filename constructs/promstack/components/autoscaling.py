"""Autoscaling: each ``autoscaling.targets`` entry as the provider's objects.

``prometheus-adapter``: an autoscaling/v2 HPA per target; a ``podMetric`` is a Pods metric the
adapter's rules serve, a ``query`` an Object metric on the target's Namespace, served by an adapter
rule made for it (:func:`query_rules`). ``keda``: a KEDA ScaledObject per target with one
``prometheus`` trigger per metric against ``prometheus.service_url``; a ``podMetric`` becomes the
query of the adapter rule that serves it, summed over the workload's pods (:func:`pod_metric_query`).

Either way the HPA is named after the workload: a ScaledObject takes over the adapter's HPA of
that name (``scaledobject.keda.sh/transfer-hpa-ownership`` and
``advanced.horizontalPodAutoscalerConfig.name``, KEDA >= 2.15) instead of adding a second HPA on
the same workload, which KEDA's admission webhook refuses and the HPA controller would not scale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cdk8s import ApiObjectMetadata
from cdk8s_plus_27 import k8s
from constructs import Construct
from keda_scaledobjects.sh.keda import (
    ScaledObjectProps,
    ScaledObjectSpec,
    ScaledObjectSpecAdvanced,
    ScaledObjectSpecAdvancedHorizontalPodAutoscalerConfig,
    ScaledObjectSpecScaleTargetRef,
    ScaledObjectSpecTriggers,
    ScaledObjectSpecTriggersAuthenticationRef,
)
from keda_triggerauthentications.sh.keda import (
    TriggerAuthenticationProps,
    TriggerAuthenticationSpec,
    TriggerAuthenticationSpecSecretTargetRef,
)

from promstack.components.base import StackContext, quantity
from promstack.components.labels import standard_labels
from promstack.components.objects import KubeObject, ObjectScope
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter.rules import AdapterRule, ResourceOverride, RuleName, RuleResources
from promstack.config.autoscaling import AutoscalingConfig, ScalingMetric, ScalingTarget, quantity_decimal
from promstack.content.catalog import known_metric_names, metric_names_in_order, render_adapter_template
from promstack.content.hpa_check import serving_rule

NAME = "autoscaling"
COMPONENT = "autoscaling"
#: KEDA: take over the HPA named in advanced.horizontalPodAutoscalerConfig.name if it exists.
TRANSFER_HPA_OWNERSHIP = "scaledobject.keda.sh/transfer-hpa-ownership"
#: The rate window of the adapter rule a podMetric comes from is kept; only the grouping changes.
_GROUP_BY = re.compile(r"\bby\s*\(\s*<<\s*\.GroupBy\s*>>\s*\)\s*")


@dataclass(frozen=True)
class PrometheusAuth:
    """Basic auth KEDA's prometheus scaler sends to Prometheus: the ``username`` and ``password``
    keys of Secret ``secret`` (in each target's namespace, as TriggerAuthentication reads it)."""

    secret: str
    username_key: str = "username"
    password_key: str = "password"


def query_metric_name(target: ScalingTarget, index: int) -> str:
    """The custom metric the adapter serves for a target's ``query`` metric ``index``."""
    base = f"promstack_{target.workload.namespace}_{target.workload.name}_query_{index}"
    return base.replace("-", "_").replace(".", "_")


def query_rules(targets: Iterable[ScalingTarget]) -> list[AdapterRule]:
    """One adapter rule per ``query`` metric: the query's result, labelled with the target's
    namespace, served as an Object metric of that Namespace (:func:`query_metric_name`).

    The adapter lists a metric only while its seriesQuery finds series: the rule discovers through
    the query's first metric in the target's namespace.
    """
    rules = []
    for target in targets:
        namespace = target.workload.namespace
        for i, metric in enumerate(target.metrics):
            if metric.query is None:
                continue
            series = first_metric(metric.query)
            name = query_metric_name(target, i)
            rules.append(AdapterRule(
                series_query=f'{series}{{namespace="{namespace}"}}',
                resources=RuleResources(overrides={"namespace": ResourceOverride(resource="namespace")}),
                name=RuleName(matches=f"^{re.escape(series)}$", as_=name),
                # The adapter matches the result's namespace label to the Namespace asked about.
                metrics_query=f'label_replace({metric.query.strip()}, "namespace", "{namespace}", "", "")',
            ))
    return rules


def first_metric(query: str) -> str:
    """The first metric name a (parsed) query selects; ``up`` if it names none."""
    names = metric_names_in_order(query)
    return names[0] if names else "up"


def pods_matcher(target: ScalingTarget) -> str:
    """A PromQL regex matching the names of the workload's pods, and no other workload's."""
    # Deployment pods: <name>-<ReplicaSet hash>-<suffix>; StatefulSet pods: <name>-<ordinal>.
    tail = "-[a-z0-9]+-[a-z0-9]+" if target.workload.kind == "Deployment" else "-[0-9]+"
    # A name holds letters, digits, '-' and '.'; the dot escaped for the regex, and again for the PromQL string.
    return target.workload.name.replace(".", "\\\\.") + tail


def pod_metric_query(target: ScalingTarget, metric: str, rules: Sequence[AdapterRule]) -> str | None:
    """The PromQL a ``podMetric`` stands for: the metricsQuery of the adapter rule serving it, for
    the workload's pods, summed into one series (KEDA's AverageValue divides it by the replicas,
    as the HPA averages the adapter's per-pod values). None when no rule serves it."""
    found = serving_rule(metric, rules, known_metric_names())
    if found is None:
        return None
    rule, series = found
    template = _GROUP_BY.sub("", rule.metrics_query).strip()
    matchers = f'namespace="{target.workload.namespace}",pod=~"{pods_matcher(target)}"'
    return render_adapter_template(template, series, label_matchers=matchers, group_by="pod")


def keda_number(value: str) -> str:
    """A Kubernetes quantity as the plain decimal KEDA's scalers parse (``500m`` -> ``0.5``)."""
    return format(quantity_decimal(value).normalize(), "f")


def trigger_authentication(scope: Construct, id_: str, *, name: str, namespace: str, labels: dict[str, str],
                           auth: PrometheusAuth | None) -> KubeObject | None:
    """The TriggerAuthentication the prometheus triggers of ``namespace`` refer to, or None
    without ``auth`` (Prometheus open inside the cluster)."""
    if auth is None:
        return None
    return KubeObject.of(scope, id_, TriggerAuthenticationProps(
        metadata=ApiObjectMetadata(name=name, namespace=namespace, labels=labels),
        spec=TriggerAuthenticationSpec(secret_target_ref=[
            TriggerAuthenticationSpecSecretTargetRef(parameter="username", name=auth.secret, key=auth.username_key),
            TriggerAuthenticationSpecSecretTargetRef(parameter="password", name=auth.secret, key=auth.password_key),
        ]),
    ))


class Autoscaling(ObjectScope):
    """HPAs (``prometheus-adapter``) or ScaledObjects (``keda``) for ``settings.targets`` and
    ``extra_targets`` (from components such as the example app), objects in each target's namespace
    (``context`` gives only their ``app.kubernetes.io/instance``).

    ``rules`` are the adapter rules podMetrics resolve against (the adapter's own under the
    adapter; the same rules name the equivalent PromQL under KEDA). ``auth``: how KEDA
    authenticates to ``prometheus`` (default: not at all). ``targets``, ``hpas``,
    ``scaled_objects`` and ``trigger_authentications`` are the inputs and the objects (KubeObject).
    """

    def __init__(self, scope: Construct, id_: str = NAME, *, settings: AutoscalingConfig = AutoscalingConfig(),
                 context: StackContext = StackContext(), prometheus: Prometheus, rules: Sequence[AdapterRule] = (),
                 extra_targets: Sequence[ScalingTarget] = (), auth: PrometheusAuth | None = None) -> None:
        super().__init__(scope, id_)
        self.targets = (*extra_targets, *settings.targets)
        self.provider = settings.provider
        self.server_address = prometheus.service_url
        self.hpas: list[KubeObject] = []
        self.scaled_objects: list[KubeObject] = []
        self.trigger_authentications: list[KubeObject] = []
        self._instance = context.instance
        auth_name = f"{id_}-prometheus"
        if settings.provider == "keda":
            for namespace in sorted({t.workload.namespace for t in self.targets}):
                made = trigger_authentication(self, f"trigger-authentication-{namespace}", name=auth_name,
                                              namespace=namespace, labels=self._labels(auth_name), auth=auth)
                if made is not None:
                    self.trigger_authentications.append(made)
        for target in self.targets:
            if settings.provider == "keda":
                self.scaled_objects.append(self._scaled_object(target, rules, auth_name if auth else None))
            else:
                self.hpas.append(self._hpa(target))

    def _labels(self, name: str) -> dict[str, str]:
        return standard_labels(name, self._instance, component=COMPONENT)

    def _hpa(self, target: ScalingTarget) -> KubeObject:
        workload = target.workload
        return KubeObject.of(self, f"hpa-{workload.namespace}-{workload.name}", k8s.KubeHorizontalPodAutoscalerV2Props(
            metadata=k8s.ObjectMeta(name=target.name, namespace=workload.namespace, labels=self._labels(target.name)),
            spec=k8s.HorizontalPodAutoscalerSpecV2(
                scale_target_ref=k8s.CrossVersionObjectReferenceV2(api_version="apps/v1", kind=workload.kind,
                                                                   name=workload.name),
                min_replicas=target.min_replicas,
                max_replicas=target.max_replicas,
                metrics=[_hpa_metric(target, i, metric) for i, metric in enumerate(target.metrics)],
            ),
        ))

    def _scaled_object(self, target: ScalingTarget, rules: Sequence[AdapterRule],
                       auth_name: str | None) -> KubeObject:
        workload = target.workload
        triggers = []
        for i, metric in enumerate(target.metrics):
            if metric.pod_metric is not None and metric.target_average_value is not None:
                query = pod_metric_query(target, metric.pod_metric, rules)
                if query is None:
                    raise ValueError(f"target {workload.namespace}/{workload.name}: no adapter rule serves "
                                     f"{metric.pod_metric!r} (content.hpa_check.check_targets reports this first)")
                threshold, metric_type, activation = metric.target_average_value, "AverageValue", None
            else:
                assert metric.query is not None and metric.threshold is not None
                query, threshold = metric.query.strip(), metric.threshold
                metric_type, activation = metric.metric_type, metric.activation_threshold
            data = {"serverAddress": self.server_address, "query": query, "threshold": keda_number(threshold)}
            if activation is not None:
                data["activationThreshold"] = keda_number(activation)
            if auth_name is not None:
                data["authModes"] = "basic"
            triggers.append(ScaledObjectSpecTriggers(
                type="prometheus", name=f"metric-{i}", metric_type=metric_type, metadata=data,
                authentication_ref=ScaledObjectSpecTriggersAuthenticationRef(name=auth_name) if auth_name else None,
            ))
        return KubeObject.of(self, f"scaled-object-{workload.namespace}-{workload.name}", ScaledObjectProps(
            metadata=ApiObjectMetadata(name=target.name, namespace=workload.namespace,
                                       labels=self._labels(target.name),
                                       annotations={TRANSFER_HPA_OWNERSHIP: "true"}),
            spec=ScaledObjectSpec(
                scale_target_ref=ScaledObjectSpecScaleTargetRef(api_version="apps/v1", kind=workload.kind,
                                                               name=workload.name),
                min_replica_count=target.min_replicas,
                max_replica_count=target.max_replicas,
                advanced=ScaledObjectSpecAdvanced(
                    horizontal_pod_autoscaler_config=ScaledObjectSpecAdvancedHorizontalPodAutoscalerConfig(
                        name=target.name),
                ),
                triggers=triggers,
            ),
        ))


def _hpa_metric(target: ScalingTarget, index: int, metric: ScalingMetric) -> k8s.MetricSpecV2:
    if metric.pod_metric is not None and metric.target_average_value is not None:
        return k8s.MetricSpecV2(type="Pods", pods=k8s.PodsMetricSourceV2(
            metric=k8s.MetricIdentifierV2(name=metric.pod_metric),
            target=k8s.MetricTargetV2(type="AverageValue", average_value=quantity(metric.target_average_value)),
        ))
    assert metric.threshold is not None
    value = quantity(metric.threshold)
    average = metric.metric_type == "AverageValue"
    return k8s.MetricSpecV2(type="Object", object=k8s.ObjectMetricSourceV2(
        described_object=k8s.CrossVersionObjectReferenceV2(api_version="v1", kind="Namespace",
                                                           name=target.workload.namespace),
        metric=k8s.MetricIdentifierV2(name=query_metric_name(target, index)),
        target=k8s.MetricTargetV2(type=metric.metric_type, average_value=value if average else None,
                                  value=None if average else value),
    ))
