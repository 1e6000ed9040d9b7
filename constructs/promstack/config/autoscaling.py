"""``autoscaling:`` in cluster.yaml: which provider serves custom metrics, and what it scales.

``provider`` is ``prometheus-adapter`` (the default: the adapter, its ``custom.metrics.k8s.io``
APIService and autoscaling/v2 HPAs) or ``keda`` (neither the adapter nor its APIService: KEDA, a
prerequisite like the Sealed Secrets controller, scales each target from a ScaledObject with
``prometheus`` triggers). ``targets`` is one typed list of what to scale, rendered for either
provider, so a cluster moves between them by changing ``provider`` alone (README: "Moving from
prometheus-adapter to KEDA"). ``keepAdapter`` is the first of the two steps of that move.

Every PromQL ``query`` is parsed at load (:func:`query_problem`) and put through the scaler-query
checks (content.autoscaling_check), so a typo fails synth instead of a scaler at run time.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from promstack.config.model import DnsLabel, DnsSubdomain, Model, Quantity, quantity_value, show, text_problem

Provider = Literal["prometheus-adapter", "keda"]

_QUERY_MAX_LENGTH = 4096
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}")


def query_problem(query: str) -> str | None:
    """Why ``query`` is no PromQL a scaler can run (empty, a control character, does not parse), or None.

    The check a query gets as a field; loading cluster.yaml then runs the scaler-query checks (one
    series, known metrics, the range window: content.autoscaling_check.target_query_problems).
    """
    if not query.strip():
        return "is empty; write a PromQL query, e.g. sum(rate(http_requests_total{namespace=\"shop\"}[2m]))"
    problem = text_problem(query, max_length=_QUERY_MAX_LENGTH, multiline=True)
    if problem:
        return problem
    from promstack.content.catalog import PromQLError, parse  # promql-parser, as for the built-in rules

    try:
        parse(query)
    except PromQLError as exc:
        reason = str(exc).removesuffix(f": {query}")
        return f"is not PromQL: {reason}; fix the query (Prometheus' /graph page shows the same error)"
    return None


def _query(value: str) -> str:
    problem = query_problem(value)
    if problem:
        raise ValueError(f"{show(value)} {problem}")
    return value


def _metric_name(value: str) -> str:
    if not _METRIC_NAME.fullmatch(value):
        raise ValueError(f"{show(value)} is not a metric name; use letters, digits, '_' and ':', e.g. "
                         "http_requests_per_second")
    return value


#: A PromQL query that parses.
PromQL = Annotated[str, AfterValidator(_query)]
MetricName = Annotated[str, AfterValidator(_metric_name)]


class WorkloadRef(Model):
    """The workload a target scales: a Deployment (default) or StatefulSet, by name and namespace."""

    kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    name: DnsSubdomain
    namespace: DnsLabel


class ScalingMetric(Model):
    """One metric of a target: EITHER a per-pod custom metric by name (``podMetric`` +
    ``targetAverageValue``) OR a PromQL ``query`` + ``threshold``.

    ``podMetric`` is an adapter-style metric (``http_requests_per_second``): an adapter rule serves
    it per pod, and under KEDA it becomes that rule's query summed over the workload's pods, with
    metricType AverageValue, so both providers aim at ``targetAverageValue`` per pod.

    ``query`` must return one series. ``metricType`` (default ``AverageValue``, as KEDA's) divides
    its value by the replica count before comparing it with ``threshold``; ``Value`` compares it as
    is. ``activationThreshold`` (KEDA only, default none) is the value below which KEDA leaves the
    workload at its minimum.
    """

    pod_metric: MetricName | None = None
    target_average_value: Quantity | None = None
    query: PromQL | None = None
    threshold: Quantity | None = None
    metric_type: Literal["AverageValue", "Value"] = "AverageValue"
    activation_threshold: Quantity | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScalingMetric:
        named = self.pod_metric is not None or self.target_average_value is not None
        queried = self.query is not None or self.threshold is not None or self.activation_threshold is not None
        if named == queried:
            raise ValueError("give either podMetric and targetAverageValue, or query and threshold "
                             "(optionally metricType, activationThreshold)")
        if named and (self.pod_metric is None or self.target_average_value is None):
            raise ValueError("podMetric needs targetAverageValue (the per-pod value to keep it near), and back")
        if queried and (self.query is None or self.threshold is None):
            raise ValueError("query needs threshold (the value to keep it near), and back")
        if self.pod_metric is not None and "metric_type" in self.model_fields_set:
            raise ValueError("metricType applies to query metrics; a podMetric is always an average per pod")
        return self


class ScalingTarget(Model):
    """One workload to scale between ``minReplicas`` (default 1) and ``maxReplicas`` (at most 100)
    on one or more ``metrics`` (the largest replica count any of them asks for wins).

    ``external: true`` says the workload is deployed from elsewhere (an app team's repository), so
    synth does not look for it among the objects it renders; otherwise it must be one of them.
    ``declaredMetrics`` lists the series the workload exports itself, which a ``query`` may name
    beside the metrics of the stack's exporters (default none)."""

    workload: WorkloadRef
    min_replicas: int = Field(default=1, ge=1, le=100)
    max_replicas: int = Field(ge=1, le=100)
    metrics: tuple[ScalingMetric, ...] = Field(max_length=10, strict=False)
    external: bool = False
    declared_metrics: tuple[MetricName, ...] = Field(default=(), max_length=100, strict=False)

    @model_validator(mode="after")
    def _replica_range(self) -> ScalingTarget:
        if not self.metrics:
            raise ValueError("metrics is empty; give at least one podMetric or query to scale on")
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below minReplicas {self.min_replicas}; raise it")
        return self

    @property
    def name(self) -> str:
        """The name of the HPA (adapter) or ScaledObject (KEDA) and of the HPA KEDA manages: the workload's,
        so a move between providers takes over the same HPA."""
        return self.workload.name


class AutoscalingConfig(Model):
    """Custom-metric autoscaling. Defaults: provider prometheus-adapter, no targets, keepAdapter false.

    ``keepAdapter: true`` (only with ``provider: keda``) keeps rendering prometheus-adapter and its
    APIService beside the ScaledObjects: step 1 of moving a live cluster to KEDA; remove it in a
    second commit once the ScaledObjects are Ready (README: "Moving from prometheus-adapter to KEDA").
    """

    provider: Provider = "prometheus-adapter"
    keep_adapter: bool = False
    targets: tuple[ScalingTarget, ...] = Field(default=(), max_length=100, strict=False)

    @model_validator(mode="after")
    def _consistent(self) -> AutoscalingConfig:
        if self.keep_adapter and self.provider != "keda":
            raise ValueError("keepAdapter is a step of moving to KEDA and needs provider keda; remove it")
        seen: set[tuple[str, str]] = set()
        for i, target in enumerate(self.targets):
            key = (target.workload.namespace, target.workload.name)
            if key in seen:
                raise ValueError(f"targets[{i}]: {target.workload.namespace}/{target.workload.name} is scaled by an "
                                 "earlier target too; one target per workload (give it several metrics)")
            seen.add(key)
        return self

    @property
    def renders_adapter(self) -> bool:
        """Whether prometheus-adapter and its APIService are part of the render."""
        return self.provider == "prometheus-adapter" or self.keep_adapter


def quantity_decimal(value: str) -> Decimal:
    """The number a (validated) quantity stands for."""
    amount = quantity_value(value)
    assert amount is not None, value
    return amount
