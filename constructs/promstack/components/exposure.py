"""A UI's way in from outside the cluster, from its ``exposure`` setting: the Service type, and an
Ingress or a Gateway API HTTPRoute in front of the Service (see ``promstack.config.exposure``)."""

from __future__ import annotations

from typing import Any

from cdk8s import ApiObjectMetadata
from cdk8s_plus_27 import k8s
from gateway_httproutes.io.k8s.networking import gateway

from promstack.components.base import Component, add_sealed_secret
from promstack.components.objects import KubeObject
from promstack.config.exposure import DEFAULT_NODE_PORTS, Exposure

#: The cert-manager ingress-shim annotations: cert-manager issues the Ingress' tls Secret.
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
ISSUER_ANNOTATION = "cert-manager.io/issuer"
TLS_SECRET_TYPE = "kubernetes.io/tls"
TLS_KEYS = ("tls.crt", "tls.key")


def tls_secret_name(component: str) -> str:
    """The Secret holding an exposed UI's certificate: cert-manager's, or the sealed one's name."""
    return f"{component}-tls"


def node_ports(exposure: Exposure, ui: str, port_name: str) -> dict[str, int] | None:
    """``node_ports`` for ``Component.add_service``: the UI's NodePort when exposed as one, else None."""
    if exposure.type != "nodePort":
        return None
    return {port_name: exposure.node_port or DEFAULT_NODE_PORTS[ui]}


def external_url(exposure: Exposure) -> str | None:
    """The https URL users open, when the UI is behind an Ingress or a Gateway."""
    return f"https://{exposure.host}/" if exposure.type in {"ingress", "gateway"} else None


def expose(component: Component, *, service: KubeObject, port_name: str, port: int, exposure: Exposure,
           tls_secret: dict[str, Any] | None = None) -> KubeObject | None:
    """The Ingress or HTTPRoute that routes ``exposure.host`` to ``service``'s port (None for
    clusterIP and nodePort, which are the Service's own type). ``tls_secret`` is the sealed
    kubernetes.io/tls Secret for ``tls.sealed``, rendered beside the Ingress."""
    if exposure.type == "ingress":
        return _ingress(component, service=service, port_name=port_name, exposure=exposure, tls_secret=tls_secret)
    if exposure.type == "gateway":
        return _http_route(component, service=service, port=port, exposure=exposure)
    if tls_secret is not None:
        raise ValueError(f"{type(component).__name__} {component.app_name!r}: tls_secret is for exposure type "
                         f"ingress with tls.sealed, not {exposure.type}")
    return None


def _ingress(component: Component, *, service: KubeObject, port_name: str, exposure: Exposure,
             tls_secret: dict[str, Any] | None) -> KubeObject:
    tls = exposure.tls
    assert tls is not None and exposure.host is not None  # the model requires both for ingress
    secret_name = tls_secret_name(component.app_name)
    owner = f"{type(component).__name__} {component.app_name!r}"
    if tls.sealed:
        if tls_secret is None:
            raise ValueError(f"{owner}: exposure.tls.sealed needs tls_secret, the sealed {TLS_SECRET_TYPE} Secret")
        meta = tls_secret["metadata"]
        kind = tls_secret["spec"].get("template", {}).get("type")
        missing = sorted(set(TLS_KEYS) - set(tls_secret["spec"]["encryptedData"]))
        if meta["name"] != secret_name or kind != TLS_SECRET_TYPE or missing:
            raise ValueError(f"{owner}: tls_secret must be the {TLS_SECRET_TYPE} Secret {secret_name!r} with keys "
                             f"{', '.join(TLS_KEYS)}")
        add_sealed_secret(component, "tls-secret", tls_secret)
        annotations = None
    elif tls_secret is not None:
        raise ValueError(f"{owner}: tls_secret is for exposure.tls.sealed; cert-manager issues this certificate")
    else:
        annotations = ({CLUSTER_ISSUER_ANNOTATION: tls.cluster_issuer} if tls.cluster_issuer
                       else {ISSUER_ANNOTATION: str(tls.issuer)})
    return KubeObject.of(component, "ingress", k8s.KubeIngressProps(
        metadata=component.meta(annotations=annotations),
        spec=k8s.IngressSpec(
            ingress_class_name=exposure.ingress_class_name,
            tls=[k8s.IngressTls(hosts=[exposure.host], secret_name=secret_name)],
            rules=[k8s.IngressRule(host=exposure.host, http=k8s.HttpIngressRuleValue(paths=[k8s.HttpIngressPath(
                path="/", path_type="Prefix",
                backend=k8s.IngressBackend(service=k8s.IngressServiceBackend(
                    name=service.name, port=k8s.ServiceBackendPort(name=port_name))))]))],
        ),
    ))


def _http_route(component: Component, *, service: KubeObject, port: int,
                exposure: Exposure) -> KubeObject:
    parent = exposure.gateway
    assert parent is not None and exposure.host is not None  # the model requires both for gateway
    route = KubeObject.of(component, "http-route", gateway.HttpRouteProps(
        metadata=ApiObjectMetadata(name=component.app_name, namespace=component.stack_namespace,
                                   labels=component.labels),
        spec=gateway.HttpRouteSpec(
            hostnames=[exposure.host],
            parent_refs=[gateway.HttpRouteSpecParentRefs(
                group="gateway.networking.k8s.io", kind="Gateway", name=parent.name,
                namespace=parent.namespace or component.stack_namespace, section_name=parent.section_name)],
            rules=[gateway.HttpRouteSpecRules(backend_refs=[gateway.HttpRouteSpecRulesBackendRefs(
                name=service.name, port=port)])],
        ),
    ))
    return route
