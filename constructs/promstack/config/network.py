"""``networkPolicy:`` in cluster.yaml: which pods, namespaces and addresses may open which connections.

On by default: every namespace the stack renders (the stack's, the example app's) denies ingress
by default, and each component admits exactly the connections the wiring opens to it (Prometheus'
scrapes, Grafana's datasources, the adapter's Prometheus URL, Alertmanager's mesh), the API
server to the adapter (``apiServerCidrs``, default from anywhere) and the UIs' peers
(``uiPeers``). Egress is opt-in (``egress.enabled``): it needs the node and API-server addresses,
which no rendered object knows.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from promstack.config.model import DnsLabel, Model, pattern_text, show


def _cidr(value: str) -> str:
    if len(value) > 64:
        raise ValueError(f"{show(value)} is not a CIDR; write an address block such as 10.0.0.0/16 or fd00::/64")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{show(value)} is not a CIDR; write an address block such as 10.0.0.0/16 or "
                             "fd00::/64") from None
        raise ValueError(f"{show(value)} has host bits set; write {loose}") from None
    if "/" not in value:
        raise ValueError(f"{show(value)} has no prefix length; write {network}")
    return value


#: An IPv4 or IPv6 address block with its prefix length and no host bits (``10.0.0.0/16``).
Cidr = Annotated[str, AfterValidator(_cidr)]
#: A label key as Kubernetes allows it: ``[prefix/]name``.
LabelKey = Annotated[str, pattern_text(
    re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
               r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"),
    "a label key ([prefix/]name: letters, digits, '-', '_', '.')", max_length=317)]
LabelValue = Annotated[str, pattern_text(re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"),
                                         "a label value (at most 63 letters, digits, '-', '_', '.')", max_length=63)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=20, strict=False)]

#: Every address: the default peer of a NodePort UI and of the API server.
ANYWHERE = ("0.0.0.0/0", "::/0")


class PeerConfig(Model):
    """Who may connect: pods (``namespace`` by name or ``namespaceLabels``, and/or ``podLabels``;
    ``podLabels`` alone means pods of the destination's own namespace) or an address block
    (``cidr``, optionally minus ``except`` blocks inside it). Give either selectors or ``cidr``."""

    namespace: DnsLabel | None = None
    namespace_labels: Labels | None = None
    pod_labels: Labels | None = None
    cidr: Cidr | None = None
    except_: tuple[Cidr, ...] = Field(default=(), alias="except", max_length=20, strict=False)

    @model_validator(mode="after")
    def _one_kind(self) -> PeerConfig:
        selectors = [self.namespace, self.namespace_labels, self.pod_labels]
        if self.cidr is not None and any(s is not None for s in selectors):
            raise ValueError("a peer is either pods (namespace, namespaceLabels, podLabels) or an address block "
                             "(cidr), not both; split it into two peers")
        if self.cidr is None and all(s is None for s in selectors):
            raise ValueError("a peer needs namespace, namespaceLabels, podLabels or cidr; add one")
        if self.namespace is not None and self.namespace_labels is not None:
            raise ValueError("namespace and namespaceLabels both select namespaces; keep one")
        if self.except_ and self.cidr is None:
            raise ValueError("except narrows a cidr; add the cidr it is part of")
        if self.cidr is not None:
            block = ipaddress.ip_network(self.cidr)
            for inner in self.except_:
                part = ipaddress.ip_network(inner)
                if part.version != block.version or not part.subnet_of(block):  # type: ignore[arg-type]
                    raise ValueError(f"except {inner} is not inside cidr {self.cidr}; give a block within it")
        return self


Peers = Annotated[tuple[PeerConfig, ...], Field(max_length=50, strict=False)]


class UiPeersConfig(Model):
    """Who may open each UI, besides the stack's own connections (Grafana to Prometheus and
    Alertmanager). Unset: from anywhere when the UI's Service is a NodePort (traffic from outside
    the cluster reaches the pod from node or client addresses), from nobody otherwise
    (``kubectl port-forward`` still works: it enters the pod's network namespace directly).
    A list replaces that default; ``[]`` admits nobody."""

    prometheus: Peers | None = None
    grafana: Peers | None = None
    alertmanager: Peers | None = None


class EgressConfig(Model):
    """Opt-in egress policies: each pod may open only the connections the wiring opens, DNS
    (kube-system kube-dns, UDP and TCP 53), the API server (``apiServerCidrs``) and node addresses
    (``nodeCidrs``) where it needs them. Default off.

    ``alertmanagerReceivers``: where Alertmanager may deliver notifications (receiver URLs are
    sealed, so their hosts are unknown here). Default anywhere; narrow it to your SMTP relay or proxy.
    ``prometheusTargets``: extra destinations for Prometheus (static targets of extra jobs). Pods
    found by the annotation-driven and extra jobs are reachable in every namespace already."""

    enabled: bool = False
    alertmanager_receivers: Peers = (PeerConfig(cidr="0.0.0.0/0"), PeerConfig(cidr="::/0"))
    prometheus_targets: Peers = ()


class NetworkPolicyConfig(Model):
    """NetworkPolicies for every pod of the stack. Defaults: enabled, ingress only, the API server
    and the NodePort UIs admitted from anywhere.

    ``apiServerCidrs``: the addresses the API server connects from (control-plane node addresses)
    to the adapter's port; empty means from anywhere, because the kube-apiserver is no pod a
    selector could name. ``nodeCidrs``: the nodes' addresses, which egress needs (kubelet,
    node-exporter on the host network, control-plane metrics). ``kedaPeers``: who runs KEDA's
    ScaledObject queries against Prometheus (default: pods labelled
    ``app.kubernetes.io/name: keda-operator`` in namespace ``keda``, as KEDA installs itself)."""

    enabled: bool = True
    api_server_cidrs: tuple[Cidr, ...] = Field(default=(), max_length=50, strict=False)
    node_cidrs: tuple[Cidr, ...] = Field(default=(), max_length=50, strict=False)
    ui_peers: UiPeersConfig = UiPeersConfig()
    egress: EgressConfig = EgressConfig()
    #: Who runs the KEDA ScaledObjects' queries against Prometheus (when the cluster renders any):
    #: KEDA's operator, by default in namespace keda as KEDA's Helm chart and manifests install it.
    keda_peers: tuple[PeerConfig, ...] = Field(
        default=(PeerConfig(namespace="keda", pod_labels={"app.kubernetes.io/name": "keda-operator"}),),
        max_length=20, strict=False)

    @model_validator(mode="after")
    def _egress_addresses(self) -> NetworkPolicyConfig:
        if not self.egress.enabled:
            return self
        if not self.enabled:
            raise ValueError("egress.enabled needs enabled: true (egress is part of the policies); enable both "
                             "or neither")
        missing = [name for name, value in (("apiServerCidrs", self.api_server_cidrs),
                                            ("nodeCidrs", self.node_cidrs)) if not value]
        if missing:
            raise ValueError(f"egress.enabled needs {' and '.join(missing)}: without them Prometheus, "
                             "kube-state-metrics and the adapter cannot reach the API server or the nodes; "
                             "give the control-plane and node address blocks")
        return self
