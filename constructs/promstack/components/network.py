"""NetworkPolicies made from the wiring: a component admits the connections other components open to it.

A component records each connection it opens where the wiring builds it (``Component.connect``:
Prometheus' scrape jobs and alerting, Grafana's datasources, the adapter's Prometheus URL,
Alertmanager's mesh). ``allow_from`` turns a connection (or a ``Peer`` that is no component: an
address block, an ingress controller's namespace) into an ingress rule of the destination's
NetworkPolicy, ``allow_to`` into an egress rule of the source's. Each component renders at most one
NetworkPolicy, named after it, in its own chart; ``default_deny`` isolates a whole namespace.

Host-network pods (node-exporter) are outside NetworkPolicies: a policy selecting them has no
effect, so none is rendered; the connection becomes an egress rule to the node addresses instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from promstack.components.objects import KubeObject

API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
#: The label the API server puts on every Namespace, its name: how a policy names a namespace.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"


@dataclass(frozen=True)
class Peer:
    """Pods or addresses that are no component of the stack, as a NetworkPolicy peer.

    ``namespace_labels``/``pod_labels`` select pods (pod labels alone: the policy's own
    namespace), ``cidr`` (minus ``except_``) addresses. ``description`` names it in messages."""

    description: str
    namespace_labels: Mapping[str, str] | None = None
    pod_labels: Mapping[str, str] | None = None
    cidr: str | None = None
    except_: tuple[str, ...] = ()

    @classmethod
    def block(cls, cidr: str, except_: Sequence[str] = (), description: str = "") -> Peer:
        return cls(description or cidr, cidr=cidr, except_=tuple(except_))

    @classmethod
    def namespace(cls, name: str, pod_labels: Mapping[str, str] | None = None) -> Peer:
        return cls(f"namespace {name}", namespace_labels={NAMESPACE_NAME_LABEL: name}, pod_labels=pod_labels)

    def render(self, own_namespace: str) -> dict[str, Any]:
        if self.cidr is not None:
            block: dict[str, Any] = {"cidr": self.cidr}
            if self.except_:
                block["except"] = list(self.except_)
            return {"ipBlock": block}
        peer: dict[str, Any] = {}
        if self.namespace_labels is not None:
            peer["namespaceSelector"] = {"matchLabels": dict(sorted(self.namespace_labels.items()))}
        if self.pod_labels is not None or not peer:
            peer["podSelector"] = {"matchLabels": dict(sorted((self.pod_labels or {}).items()))}
        return peer


#: The cluster DNS pods every pod resolves names with (kubeadm, k3s, EKS, GKE: label k8s-app=kube-dns).
KUBE_DNS = Peer("kube-dns", namespace_labels={NAMESPACE_NAME_LABEL: "kube-system"},
                pod_labels={"k8s-app": "kube-dns"})
#: Every pod of every namespace.
ALL_PODS = Peer("every pod", namespace_labels={})


def pods_peer(namespace: str, selector: Mapping[str, str], own_namespace: str) -> dict[str, Any]:
    """Pods with the labels ``selector`` in ``namespace``; the namespace selector only when it is
    not the policy's own (a bare podSelector means the policy's namespace)."""
    peer: dict[str, Any] = {}
    if namespace != own_namespace:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    peer["podSelector"] = {"matchLabels": dict(sorted(selector.items()))}
    return peer


@dataclass
class _Rule:
    port: dict[str, Any]
    peers: list[dict[str, Any]] = field(default_factory=list)


def _add(rules: list[_Rule], peer: dict[str, Any], port: dict[str, Any]) -> bool:
    """Add ``peer`` to the rule of ``port`` (one rule per port, in first-seen order); False when known."""
    for rule in rules:
        if rule.port == port:
            if peer in rule.peers:
                return False
            rule.peers.append(peer)
            return True
    rules.append(_Rule(port, [peer]))
    return True


class NetworkPolicyBuilder:
    """The NetworkPolicy of one component's pods, created on the first rule and re-rendered on each."""

    def __init__(self, scope: Construct, *, name: str, namespace: str, labels: Mapping[str, str],
                 selector: Mapping[str, str]) -> None:
        self._scope = scope
        self._name = name
        self._namespace = namespace
        self._labels = dict(labels)
        self._selector = dict(sorted(selector.items()))
        self._ingress: list[_Rule] = []
        self._egress: list[_Rule] = []
        self._egress_on = False
        self.api_object: KubeObject | None = None

    def ingress(self, peer: dict[str, Any], port: dict[str, Any]) -> None:
        if _add(self._ingress, peer, port) or self.api_object is None:
            self._render()

    def egress(self, peer: dict[str, Any], port: dict[str, Any] | None) -> None:
        self._egress_on = True
        if _add(self._egress, peer, port or {}) or self.api_object is None:
            self._render()

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"podSelector": {"matchLabels": self._selector},
                                "policyTypes": ["Ingress", "Egress"] if self._egress_on else ["Ingress"]}
        if self._ingress:
            spec["ingress"] = [{"from": r.peers, "ports": [r.port]} for r in self._ingress]
        if self._egress:
            spec["egress"] = [{"to": r.peers, **({"ports": [r.port]} if r.port else {})} for r in self._egress]
        return spec

    def _render(self) -> None:
        if self.api_object is None:
            self.api_object = KubeObject(
                self._scope, "network-policy", api_version=API_VERSION, kind=KIND,
                metadata={"name": self._name, "namespace": self._namespace, "labels": self._labels})
        # The spec keeps its own order (podSelector, policyTypes, rules); the last rendering wins.
        self.api_object.put("spec", self.spec)


def default_deny(scope: Construct, *, namespace: str, labels: Mapping[str, str], egress: bool) -> list[KubeObject]:
    """``default-deny``: every pod of ``namespace`` isolated for ingress (and, with ``egress``, for
    egress, with ``allow-dns`` letting every pod resolve names through kube-dns, UDP and TCP 53)."""
    objects = []
    deny = KubeObject(scope, DEFAULT_DENY, api_version=API_VERSION, kind=KIND,
                      metadata={"name": DEFAULT_DENY, "namespace": namespace, "labels": dict(labels)})
    deny.put("spec", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"] if egress else ["Ingress"]})
    objects.append(deny)
    if egress:
        dns = KubeObject(scope, ALLOW_DNS, api_version=API_VERSION, kind=KIND,
                         metadata={"name": ALLOW_DNS, "namespace": namespace, "labels": dict(labels)})
        dns.put("spec", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [KUBE_DNS.render(namespace)],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})
        objects.append(dns)
    return objects
