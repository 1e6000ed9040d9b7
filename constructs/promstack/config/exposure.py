"""How a UI (Prometheus, Grafana, Alertmanager) is reached from outside the cluster: a typed choice.

``clusterIP`` (the default: in-cluster only, ``kubectl port-forward`` for a look), ``nodePort`` (every
node's port over plain HTTP: for a lab cluster such as demo), ``ingress`` (a
networking.k8s.io/v1 Ingress with TLS from cert-manager or a sealed certificate) or ``gateway`` (a
Gateway API HTTPRoute attached to the HTTPS listener of a Gateway someone else runs).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, model_validator
from pydantic.json_schema import SkipJsonSchema

from promstack.config.model import DnsLabel, DnsSubdomain, Model, show

NODE_PORT_RANGE = (30000, 32767)


def _node_port(value: int) -> int:
    low, high = NODE_PORT_RANGE
    if not low <= value <= high:
        raise ValueError(f"{show(value)} is outside the NodePort range; use {low}-{high}")
    return value


NodePort = Annotated[int, AfterValidator(_node_port)]

ExposureType = Literal["clusterIP", "nodePort", "ingress", "gateway"]
#: The NodePort each UI gets with ``type: nodePort`` and no ``nodePort`` (demo's, as before).
DEFAULT_NODE_PORTS = {"prometheus": 30090, "grafana": 30300, "alertmanager": 30903}


class ExposureTls(Model):
    """The Ingress' certificate, exactly one of: ``clusterIssuer`` or ``issuer`` (cert-manager issues
    it into the Secret ``<component>-tls`` through the ingress-shim annotation), or ``sealed: true``
    (clusters/<name>/<component>-tls.sealedsecret.yaml, a kubernetes.io/tls SealedSecret made with
    ``promstack seal --type kubernetes.io/tls``)."""

    cluster_issuer: DnsSubdomain | None = None
    issuer: DnsSubdomain | None = None
    sealed: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> ExposureTls:
        given = [name for name, on in (("clusterIssuer", self.cluster_issuer), ("issuer", self.issuer),
                                       ("sealed", self.sealed)) if on]
        if len(given) != 1:
            raise ValueError(f"give exactly one of clusterIssuer, issuer (cert-manager) or sealed: true, not "
                             f"{' and '.join(given) or 'none'}")
        return self


class GatewayParent(Model):
    """The Gateway the HTTPRoute attaches to: its name, namespace (default the stack's) and the
    name of its HTTPS listener (``sectionName``, required, so the route never lands on a plain-HTTP
    listener; TLS is that listener's certificate, which the Gateway's owner manages)."""

    name: DnsSubdomain
    namespace: DnsLabel | None = None
    section_name: DnsSubdomain


class Exposure(Model):
    """How the UI is reached (default ``clusterIP``: in-cluster only).

    ``nodePort``: the Service becomes a NodePort on ``nodePort`` (default per UI: Prometheus 30090,
    Grafana 30300, Alertmanager 30903). ``ingress``: an Ingress for ``host`` (required) with
    ``ingressClassName`` (default: the cluster's default class) and ``tls`` (required).
    ``gateway``: an HTTPRoute for ``host`` (required) attached to ``gateway`` (required).
    """

    type: ExposureType = "clusterIP"
    node_port: NodePort | None = None
    host: DnsSubdomain | None = None
    ingress_class_name: DnsSubdomain | None = None
    tls: ExposureTls | None = None
    gateway: GatewayParent | None = None

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Exposure:
        wanted = {"clusterIP": set(), "nodePort": {"nodePort"}, "ingress": {"host", "ingressClassName", "tls"},
                  "gateway": {"host", "gateway"}}[self.type]
        required = {"clusterIP": [], "nodePort": [], "ingress": ["host", "tls"],
                    "gateway": ["host", "gateway"]}[self.type]
        given = {"nodePort": self.node_port, "host": self.host, "ingressClassName": self.ingress_class_name,
                 "tls": self.tls, "gateway": self.gateway}
        stray = sorted(k for k, v in given.items() if v is not None and k not in wanted)
        missing = [k for k in required if given[k] is None]
        problems = ([f"type {self.type} needs {', '.join(missing)}"] if missing else []) + (
            [f"{', '.join(stray)} is not used by type {self.type}; remove it or change the type"] if stray else [])
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def exposed(self) -> bool:
        """Reachable from outside the cluster (anything but clusterIP)."""
        return self.type != "clusterIP"


class ApiExposure(Exposure):
    """Exposure of a UI with no login of its own (Prometheus, Alertmanager), plus ``auth``: ``basic``
    (basic auth through its web config, the credentials sealed by ``promstack seal-web-auth`` into
    clusters/<name>/<ui>-web-auth.sealedsecret.yaml) or ``none``. Default: ``basic`` whenever
    ``type`` is not ``clusterIP``, ``none`` while it is (in-cluster only). An explicit ``none`` on an
    exposed UI renders, and synth warns."""

    auth: Literal["basic", "none"] | None = None

    @property
    def basic_auth(self) -> bool:
        return self.auth == "basic" or (self.auth is None and self.exposed)


def _refuse_node_port(component: str) -> AfterValidator:
    def refuse(value: Any) -> Any:
        raise ValueError(
            f"was replaced by {component}.exposure; write `exposure: {{type: nodePort, nodePort: {show(value)}}}` to "
            f"keep the NodePort, or leave it out: the default is clusterIP (see the README's \"Exposing a UI\")")

    return AfterValidator(refuse)


# The old ``nodePort`` keys, accepted only to be refused with the new key: an alias would quietly
# keep a NodePort open on every node, which the new clusterIP default exists to stop. Not in the schema.
RemovedPrometheusNodePort = Annotated[Any, SkipJsonSchema(), _refuse_node_port("prometheus")]
RemovedGrafanaNodePort = Annotated[Any, SkipJsonSchema(), _refuse_node_port("grafana")]
