"""Every string field of cluster.yaml and fleet.yaml checks the whole value.

The walk below finds every field that holds text (plain, optional, in a list, a mapping key, a
Literal) in ClusterSpec and FleetConfig, and feeds each a valid sample with a trailing newline,
carriage return, tab or NUL appended, and a 10 MB value. Each must give exactly one problem, on one
line, naming the field, quoting at most ~80 characters of the value. Python's ``$`` matches before
a trailing newline, so a pattern checked with ``re.match(r"^...$")`` lets ``"monitoring\\n"`` through;
this test fails for any field whose check is not anchored at the very end (or missing).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, Literal, Union

import pytest
from pydantic import BaseModel

from promstack.config.cluster import ClusterSpec, parse_spec
from promstack.config.fleet import FleetConfig, parse_fleet
from promstack.config.model import ConfigError

KEY = object()  # a path step meaning "a key of this mapping"
Path = tuple[Any, ...]

RULE = {
    "seriesQuery": "http_requests_total",
    "seriesFilters": [{"is": "^http_"}],
    "resources": {"template": "<<.Resource>>", "overrides": {"namespace": {"resource": "namespace"}}},
    "name": {"matches": "^(.*)_total$", "as": "${1}_per_second"},
    "metricsQuery": "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
}
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
CLUSTER_BASE: dict[str, Any] = {
    "adapter": {"rules": [RULE], "resources": copy.deepcopy(RESOURCES)},
    **{component: {"resources": copy.deepcopy(RESOURCES)}
       for component in ("nodeExporter", "prometheus", "kubeStateMetrics", "grafana")},
}
CLUSTER_BASE["prometheus"]["extraScrapeConfigs"] = [{
    "jobName": "team", "role": "pod", "namespaces": ["team"],
    "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "pod"}],
}]
CLUSTER_BASE["prometheus"]["remoteWrite"] = [{
    "name": "store", "url": "https://store.example.com/api/v1/write", "headers": {"X-Scope-OrgID": "tenant"},
    "writeRelabelConfigs": [{"sourceLabels": ["__name__"], "targetLabel": "metric"}],
}]
CLUSTER_BASE["prometheus"]["externalLabels"] = {"region": "eu"}
CLUSTER_BASE["alertmanager"] = {
    "resources": copy.deepcopy(RESOURCES),
    "receivers": [{"name": "r", "slack": [{"apiUrlSecret": "slack-url"}], "pagerduty": [{"routingKeySecret": "pd"}],
                   "email": [{"to": "a@example.com", "from": "b@example.com", "smarthost": "smtp.example.com:587",
                              "authUsername": "am", "authPasswordSecret": "smtp"}],
                   "webhook": [{"urlSecret": "hook"}]}],
    "routing": {"routes": [{"receiver": "r", "matchers": {"team": "shop"}}]},
}
CLUSTER_BASE["autoscaling"] = {"targets": [{
    "workload": {"name": "web", "namespace": "shop"}, "maxReplicas": 3,
    "metrics": [{"podMetric": "http_requests_per_second", "targetAverageValue": "10"}],
}]}
FLEET_BASE: dict[str, Any] = {"repoURL": "https://git.example.com/platform/promstack.git",
                               "hub": {"queryUrl": "https://hub.example.com/prometheus",
                                       "headers": {"X-Scope-OrgID": "tenant"}}}

# A valid value for each string field that has no string default (or an empty one).
SAMPLES = {
    "prometheus.storage.storageClass": "fast-ssd",
    "grafana.persistence.storageClass": "fast-ssd",
    "adapter.rules[0].seriesQuery": RULE["seriesQuery"],
    "adapter.rules[0].seriesFilters[0].is": "^http_",
    "adapter.rules[0].seriesFilters[0].isNot": "_bucket$",
    "adapter.rules[0].resources.template": "<<.Resource>>",
    "adapter.rules[0].resources.overrides": "namespace",
    "adapter.rules[0].resources.overrides.k.resource": "namespace",
    "adapter.rules[0].resources.overrides.k.group": "apps",
    "adapter.rules[0].name.matches": "^(.*)_total$",
    "adapter.rules[0].name.as": "${1}_per_second",
    "adapter.rules[0].metricsQuery": RULE["metricsQuery"],
    "prometheus.retentionSize": "8GB",
    "prometheus.extraScrapeConfigs[0].jobName": "team",
    "prometheus.extraScrapeConfigs[0].staticTargets[0]": "exporter.example.com:9100",
    "prometheus.extraScrapeConfigs[0].scrapeInterval": "15s",
    "prometheus.extraScrapeConfigs[0].scrapeTimeout": "10s",
    "prometheus.extraScrapeConfigs[0].bearerTokenSecret": "team-token",
    "prometheus.extraScrapeConfigs[0].basicAuth.username": "scraper",
    "prometheus.extraScrapeConfigs[0].basicAuth.passwordSecret": "team-password",
    "prometheus.extraScrapeConfigs[0].relabelings[0].sourceLabels[0]": "__meta_kubernetes_pod_name",
    "prometheus.extraScrapeConfigs[0].relabelings[0].separator": ";",
    "prometheus.extraScrapeConfigs[0].relabelings[0].regex": "(.*)",
    "prometheus.extraScrapeConfigs[0].relabelings[0].targetLabel": "pod",
    "prometheus.extraScrapeConfigs[0].relabelings[0].replacement": "$1",
    "prometheus.remoteWrite[0].name": "store",
    "prometheus.remoteWrite[0].url": "https://store.example.com/api/v1/write",
    "prometheus.remoteWrite[0].basicAuth.username": "writer",
    "prometheus.remoteWrite[0].basicAuth.passwordSecret": "store-password",
    "prometheus.remoteWrite[0].bearerTokenSecret": "store-token",
    "prometheus.remoteWrite[0].oauth2.clientId": "promstack",
    "prometheus.remoteWrite[0].oauth2.clientSecretSecret": "store-client-secret",
    "prometheus.remoteWrite[0].oauth2.tokenUrl": "https://idp.example.com/token",
    "prometheus.remoteWrite[0].oauth2.scopes[0]": "metrics.write",
    "prometheus.remoteWrite[0].oauth2.endpointParams": "audience",
    "prometheus.remoteWrite[0].oauth2.endpointParams.k": "metrics",
    "prometheus.remoteWrite[0].sigv4.region": "eu-west-1",
    "prometheus.remoteWrite[0].sigv4.roleArn": "arn:aws:iam::123456789012:role/writer",
    "prometheus.remoteWrite[0].tls.caFile": "store-ca.crt",
    "prometheus.remoteWrite[0].tls.caSecret": "ca.crt",
    "prometheus.remoteWrite[0].tls.certSecret": "tls.crt",
    "prometheus.remoteWrite[0].tls.keySecret": "tls.key",
    "prometheus.remoteWrite[0].tls.serverName": "store.example.com",
    "prometheus.remoteWrite[0].headers": "X-Scope-OrgID",
    "prometheus.remoteWrite[0].headers.k": "tenant",
    "prometheus.remoteWrite[0].writeRelabelConfigs[0].sourceLabels[0]": "__name__",
    "prometheus.remoteWrite[0].writeRelabelConfigs[0].separator": ";",
    "prometheus.remoteWrite[0].writeRelabelConfigs[0].regex": "(.*)",
    "prometheus.remoteWrite[0].writeRelabelConfigs[0].targetLabel": "metric",
    "prometheus.remoteWrite[0].writeRelabelConfigs[0].replacement": "$1",
    "prometheus.remoteWrite[0].queueConfig.batchSendDeadline": "5s",
    "prometheus.remoteWrite[0].queueConfig.minBackoff": "30ms",
    "prometheus.remoteWrite[0].queueConfig.maxBackoff": "5s",
    "prometheus.remoteWrite[0].remoteTimeout": "30s",
    "prometheus.clusterLabel.value": "prod",
    "prometheus.externalLabels": "region",
    "prometheus.externalLabels.k": "eu",
    "alertmanager.storage.storageClass": "fast-ssd",
    "alertmanager.receivers[0].slack[0].channel": "#alerts",
    "alertmanager.receivers[0].webhook[0].credentialsSecret": "hook-token",
    "alertmanager.routing.critical": "r",
    "alertmanager.routing.warning": "r",
    "alertmanager.routing.heartbeat": "r",
    "alertmanager.routing.routes[0].groupBy[0]": "alertname",
    "alertmanager.routing.routes[0].matchers": "team",
    "alertmanager.routing.routes[0].matchers.k": "shop",
    "autoscaling.targets[0].workload.name": "web",
    "autoscaling.targets[0].workload.namespace": "shop",
    "autoscaling.targets[0].metrics[0].podMetric": "http_requests_per_second",
    "autoscaling.targets[0].metrics[0].targetAverageValue": "10",
    "autoscaling.targets[0].metrics[0].query": "sum(rate(http_requests_total[2m]))",
    "autoscaling.targets[0].metrics[0].threshold": "50",
    "autoscaling.targets[0].metrics[0].activationThreshold": "5",
    "autoscaling.targets[0].declaredMetrics[0]": "checkout_orders_total",
    "repoURL": FLEET_BASE["repoURL"],
    "hub.queryUrl": "https://hub.example.com/prometheus",
    "hub.headers": "X-Scope-OrgID",
    "hub.headers.k": "tenant",
    "hub.bearerTokenSecret": "hub-token",
    "hub.basicAuth.username": "reader",
    "hub.basicAuth.passwordSecret": "hub-password",
    "argocd.destinationName": "{cluster}",
    "flux.kubeConfigSecret": "{cluster}-kubeconfig",
    "registryMirror": "mirror.internal.example/proxy",
    "images.registryMirror": "mirror.internal.example/proxy",
    **{f"images.{component}.{key}": value
       for component in ("nodeExporter", "prometheus", "kubeStateMetrics", "prometheusAdapter", "alertmanager",
                         "configReloader", "grafana", "exampleApp")
       for key, value in (("repository", "example.invalid/team/image"), ("tag", "v1.2.3"),
                          ("digest", "sha256:" + "ab" * 32))},
}
# networkPolicy: every peer list takes the same peer fields.
PEER_LISTS = [f"networkPolicy.uiPeers.{ui}[0]" for ui in ("prometheus", "grafana", "alertmanager")] + [
    "networkPolicy.egress.alertmanagerReceivers[0]", "networkPolicy.egress.prometheusTargets[0]",
    "networkPolicy.kedaPeers[0]"]
SAMPLES.update({"networkPolicy.apiServerCidrs[0]": "10.0.0.0/28", "networkPolicy.nodeCidrs[0]": "10.0.0.0/24"})
for peer in PEER_LISTS:
    SAMPLES.update({f"{peer}.namespace": "ingress-nginx", f"{peer}.namespaceLabels": "team",
                    f"{peer}.namespaceLabels.k": "shop", f"{peer}.podLabels": "app", f"{peer}.podLabels.k": "web",
                    f"{peer}.cidr": "10.0.0.0/8", f"{peer}.except[0]": "10.1.0.0/16"})
# PromQL and Go templates: whitespace is part of the language (and of YAML block scalars).
WHITESPACE_OK = {"adapter.rules[0].seriesQuery", "adapter.rules[0].metricsQuery",
                 "autoscaling.targets[0].metrics[0].query"}
HUGE = "é" * 10_000_000  # é appears in no message, so counting it counts the echoed input


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if part is KEY:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _text_fields(tp: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is str:
        yield path, None
    elif origin is Literal:
        if all(isinstance(a, str) for a in args):
            yield path, args[0]
    elif origin is typing.Annotated:
        yield from _text_fields(args[0], path)
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _text_fields(arg, path)
    elif origin is tuple:
        yield from _text_fields(args[0], (*path, 0))
    elif origin is dict:
        yield from (((*path, KEY), None) for _ in _text_fields(args[0], ()))
        yield from _text_fields(args[1], (*path, "k"))
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            yield from _text_fields(field.annotation, (*path, field.alias or name))


def text_fields(model: type[BaseModel], base: dict[str, Any]) -> dict[str, tuple[Path, str]]:
    """``dotted path -> (path, a valid sample)`` for every text field of ``model``."""
    defaults = model.model_validate(base).model_dump(by_alias=True)
    found = {}
    for path, literal in _text_fields(model, ()):
        name = dotted(path) if path[-1] is not KEY else dotted(path[:-1])
        default = _lookup(defaults, path)
        sample = SAMPLES.get(name) or literal or (default if isinstance(default, str) and default else None)
        assert sample, f"{name}: add a valid sample to SAMPLES"
        found[name] = (path, sample)
    return found


def _lookup(node: Any, path: Path) -> Any:
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _extra_job(doc: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = doc["prometheus"]["extraScrapeConfigs"][0]
    return job


def _remote_write(doc: dict[str, Any]) -> dict[str, Any]:
    endpoint: dict[str, Any] = doc["prometheus"]["remoteWrite"][0]
    return endpoint


_OAUTH2 = {"clientId": "promstack", "clientSecretSecret": "store-client-secret",
           "tokenUrl": "https://idp.example.com/token", "endpointParams": {"audience": "metrics"}}


def _oauth2_without(field: str) -> Callable[[dict[str, Any]], object]:
    """Every required oauth2 field but ``field`` (endpointParams stays: its key or value is what varies)."""
    return lambda doc: _remote_write(doc).update(
        oauth2={k: v for k, v in _OAUTH2.items() if k != field or k == "endpointParams"})


# Fields that exclude or need a sibling: the walk varies one field, so it makes room for it first.
MAKE_ROOM: dict[str, Callable[[dict[str, Any]], object]] = {
    "prometheus.extraScrapeConfigs[0].staticTargets[0]":
        lambda doc: [_extra_job(doc).pop(key) for key in ("role", "namespaces")],
    "prometheus.extraScrapeConfigs[0].basicAuth.username":
        lambda doc: _extra_job(doc).update(basicAuth={"passwordSecret": "team-password"}),
    "prometheus.extraScrapeConfigs[0].basicAuth.passwordSecret":
        lambda doc: _extra_job(doc).update(basicAuth={"username": "scraper"}),
    "prometheus.remoteWrite[0].basicAuth.username":
        lambda doc: _remote_write(doc).update(basicAuth={"passwordSecret": "store-password"}),
    "prometheus.remoteWrite[0].basicAuth.passwordSecret":
        lambda doc: _remote_write(doc).update(basicAuth={"username": "writer"}),
    **{f"prometheus.remoteWrite[0].oauth2.{field}": _oauth2_without(field)
       for field in ("clientId", "clientSecretSecret", "tokenUrl", "scopes[0]", "endpointParams", "endpointParams.k")},
    "hub.basicAuth.username": lambda doc: doc["hub"].update(basicAuth={"passwordSecret": "hub-password"}),
    "hub.basicAuth.passwordSecret": lambda doc: doc["hub"].update(basicAuth={"username": "reader"}),
    "prometheus.remoteWrite[0].sigv4.roleArn": lambda doc: _remote_write(doc).update(sigv4={"region": "eu-west-1"}),
    "prometheus.remoteWrite[0].tls.certSecret": lambda doc: _remote_write(doc).update(tls={"keySecret": "tls.key"}),
    "prometheus.remoteWrite[0].tls.keySecret": lambda doc: _remote_write(doc).update(tls={"certSecret": "tls.crt"}),
}


def _query_metric(doc: dict[str, Any]) -> None:
    """A target metric is a podMetric or a query: make metrics[0] the query kind."""
    doc["autoscaling"]["targets"][0]["metrics"] = [{"query": "sum(rate(http_requests_total[2m]))", "threshold": "50"}]


MAKE_ROOM.update(dict.fromkeys((f"autoscaling.targets[0].metrics[0].{key}"
                                for key in ("query", "threshold", "activationThreshold", "metricType")), _query_metric))


def _peer_room(peer: str, entry: dict[str, Any]) -> Callable[[dict[str, Any]], object]:
    """Put a peer holding ``entry`` in place: ``except`` needs its cidr, a label key a value beside it."""
    def make(doc: dict[str, Any]) -> object:
        node: Any = doc
        *parents, last = peer.removesuffix("[0]").split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = [copy.deepcopy(entry)]
        return None

    return make


for _peer in PEER_LISTS:
    MAKE_ROOM[f"{_peer}.except[0]"] = _peer_room(_peer, {"cidr": "10.0.0.0/8"})
    MAKE_ROOM[f"{_peer}.namespaceLabels"] = _peer_room(_peer, {"namespaceLabels": {"team": "shop"}})
    MAKE_ROOM[f"{_peer}.podLabels"] = _peer_room(_peer, {"podLabels": {"app": "web"}})


# An exposure field is used by some types only and some need siblings: each gets a valid exposure around it.
_HOST = "ui.example.com"
_EXPOSURE_ROOM: dict[str, dict[str, Any]] = {
    "host": {"type": "gateway", "gateway": {"name": "public", "sectionName": "https"}},
    "ingressClassName": {"type": "ingress", "host": _HOST, "tls": {"sealed": True}},
    "tls.clusterIssuer": {"type": "ingress", "host": _HOST, "tls": {}},
    "tls.issuer": {"type": "ingress", "host": _HOST, "tls": {}},
    "gateway.name": {"type": "gateway", "host": _HOST, "gateway": {"sectionName": "https"}},
    "gateway.namespace": {"type": "gateway", "host": _HOST, "gateway": {"name": "public", "sectionName": "https"}},
    "gateway.sectionName": {"type": "gateway", "host": _HOST, "gateway": {"name": "public"}},
}
_EXPOSURE_SAMPLES = {"host": _HOST, "ingressClassName": "nginx", "tls.clusterIssuer": "letsencrypt",
                     "tls.issuer": "ca", "gateway.name": "public", "gateway.namespace": "gateway-system",
                     "gateway.sectionName": "https"}


def _make_exposure_room(ui: str, room: dict[str, Any]) -> Callable[[dict[str, Any]], object]:
    def make(doc: dict[str, Any]) -> object:
        doc.setdefault(ui, {}).update(exposure=copy.deepcopy(room))
        # A routed UI names the proxy pods its NetworkPolicy admits.
        doc.setdefault("networkPolicy", {}).setdefault("uiPeers", {}).setdefault(ui, [{"namespace": "ingress-nginx"}])
        return None

    return make


for _ui in ("prometheus", "grafana", "alertmanager"):
    for _field, _room in _EXPOSURE_ROOM.items():
        SAMPLES[f"{_ui}.exposure.{_field}"] = _EXPOSURE_SAMPLES[_field]
        MAKE_ROOM[f"{_ui}.exposure.{_field}"] = _make_exposure_room(_ui, _room)


def with_value(base: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    if dotted(path) in MAKE_ROOM:
        MAKE_ROOM[dotted(path)](doc)
    node: Any = doc
    for i, part in enumerate(path[:-1]):
        following = path[i + 1]
        if following is KEY:  # the key of a mapping entry: keep a valid value beside it
            existing = node.get(part)
            entry = next(iter(existing.values())) if isinstance(existing, dict) and existing else {"resource": "pod"}
            node[part] = {value: copy.deepcopy(entry)}
            return doc
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
            continue
        default: Any = [] if isinstance(following, int) else {}
        if part == "k":  # the value of a mapping entry
            default = {"resource": "pod"}
        node = node.setdefault(part, default)
    last = path[-1]
    if isinstance(last, int):
        node[:] = [value]
    else:
        if {"is", "isNot"} & {last}:  # a series filter takes exactly one of the two
            node.pop("is", None), node.pop("isNot", None)
        node[last] = value
    return doc


CLUSTER_FIELDS = text_fields(ClusterSpec, CLUSTER_BASE)
FLEET_FIELDS = text_fields(FleetConfig, FLEET_BASE)
CASES = [
    pytest.param(parse_spec, CLUSTER_BASE, name, path, sample, id=f"cluster:{name}")
    for name, (path, sample) in CLUSTER_FIELDS.items()
] + [
    pytest.param(parse_fleet, FLEET_BASE, name, path, sample, id=f"fleet:{name}")
    for name, (path, sample) in FLEET_FIELDS.items()
]


def test_the_walk_finds_every_kind_of_text_field() -> None:
    assert {"namespace", "prometheus.retention", "prometheus.storage.size", "prometheus.storage.storageClass",
            "prometheus.resources.requests.cpu", "adapter.metricsRelistInterval", "adapter.tls.mode",
            "adapter.rules[0].metricsQuery", "adapter.rules[0].resources.overrides",
            "adapter.rules[0].resources.overrides.k.group", "alerts.customMetricsApiservices[0]",
            "alerts.targetDownFor", "exampleApp.targetAverageValue"} <= set(CLUSTER_FIELDS)
    assert {"repoURL", "revision", "path", "argocd.destinationServer", "argocd.destinationName",
            "flux.interval", "flux.kubeConfigSecret"} <= set(FLEET_FIELDS)


@pytest.mark.parametrize(("parse", "base", "name", "path", "sample"), CASES)
def test_samples_are_valid(parse: Any, base: dict[str, Any], name: str, path: Path, sample: str) -> None:
    parse(with_value(base, path, sample), "f.yaml")


@pytest.mark.parametrize(("parse", "base", "name", "path", "sample"), CASES)
def test_every_text_field_refuses_bad_characters_and_huge_values(
    parse: Any, base: dict[str, Any], name: str, path: Path, sample: str
) -> None:
    for bad in (sample + "\n", sample + "\r", sample + "\t", sample + "\x00", HUGE):
        data = with_value(base, path, bad)
        if name in WHITESPACE_OK and bad[-1:] in "\n\r\t" and bad is not HUGE:
            parse(data, "f.yaml")
            continue
        with pytest.raises(ConfigError) as caught:
            parse(data, "f.yaml")
        [problem] = caught.value.problems
        shown = f"{name} <- {bad[:20]!r}: {problem[:300]}"
        assert problem.startswith(f"f.yaml: {name}: "), shown
        assert "\n" not in problem and "\r" not in problem and "\x00" not in problem, shown
        assert len(problem) < 400 and problem.count("é") <= 80, shown
