"""Reachability: the connections a unit's pods need, checked against its rendered NetworkPolicies.

The flows come from the rendered objects, never from promstack's code:

- every target of every scrape job in a rendered ``prometheus.yml`` (Kubernetes SD roles
  ``endpointslice``, ``endpoints`` and ``pod`` over the unit's Services and pod templates, through
  the job's keep/drop/replace relabelling, as Prometheus applies it), from the pods mounting it;
- every Alertmanager that ``prometheus.yml``'s ``alerting`` section discovers, the same way;
- every Grafana datasource URL (``http://<service>.<namespace>.svc:<port>``) to the Service's pods;
- each APIService to the pods behind its Service, from the API server (an address, no pod);
- each ``--cluster.peer`` of an Alertmanager to the peer's pods, on TCP and UDP (memberlist);
- each container flag holding the URL of a Service (the adapter's ``--prometheus-url``);
- each NodePort or LoadBalancer Service's pods, from outside the cluster (an address).

Each flow is evaluated as Kubernetes does: a pod is isolated for ingress iff some NetworkPolicy of
its namespace selects it (``podSelector``) with ``Ingress`` in its ``policyTypes`` (absent types:
Ingress, plus Egress when the policy has egress rules); an isolated pod admits a connection iff
some selecting policy has a rule whose peers and ports both match (no ``from``/``ports``: all).
Egress likewise on the source. Peers: ``podSelector`` (the policy's namespace),
``namespaceSelector`` (namespace labels, ``kubernetes.io/metadata.name`` included), both in one
peer (pods matching in namespaces matching), ``matchLabels`` and ``matchExpressions``; ports by
number (with ``endPort``) or by name, resolved against the destination pod's container ports,
and protocol (default TCP). Host-network pods are outside NetworkPolicies: no ingress check.

What the check cannot know, it does not assume: pod addresses, so an ``ipBlock`` never admits a
pod (implementations differ), and the API server's or nodes' addresses, so an address (the API
server, outside clients; a host-network pod as destination of an egress rule) is admitted by any
``ipBlock`` peer that is not excepted whole.
Targets outside the unit (kube-system, nodes, other namespaces' pods) are not flows it checks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import yaml

from promstack.validate import k8s, yamlsafe
from promstack.validate.findings import REACHABILITY, Finding, PathPart, clip
from promstack.validate.k8s import as_dict, as_list, as_str
from promstack.validate.loader import Document

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: What stands for a pod's address in relabelling (Prometheus sees the pod IP there).
POD_ADDRESS = "10.0.0.1"
API_SERVER = "the API server"
OUTSIDE = "outside the cluster"


# -- the unit's pods, Services and namespaces -----------------------------------------------------

@dataclass(frozen=True)
class Port:
    name: str
    number: int
    protocol: str
    path: tuple[PathPart, ...]


@dataclass(frozen=True)
class Pod:
    """The pods of one pod template (a Deployment's, a StatefulSet's ...)."""

    template: k8s.PodTemplate
    ports: tuple[Port, ...]

    @property
    def doc(self) -> Document:
        return self.template.doc

    @property
    def namespace(self) -> str:
        return self.doc.namespace

    @property
    def labels(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.template.labels.items()}

    @property
    def host_network(self) -> bool:
        return self.template.spec.get("hostNetwork") is True

    @property
    def ref(self) -> str:
        return f"{self.doc.kind}/{self.namespace}/{self.doc.name}"

    def port(self, number: int, protocol: str) -> Port | None:
        return next((p for p in self.ports if p.number == number and p.protocol == protocol), None)

    def named(self, name: str, protocol: str) -> Port | None:
        return next((p for p in self.ports if p.name == name and p.protocol == protocol), None)


def _pod(template: k8s.PodTemplate) -> Pod:
    ports = []
    for path, container in template.containers():
        for j, item in enumerate(as_list(container.get("ports"))):
            item = as_dict(item)
            number = item.get("containerPort")
            if isinstance(number, int):
                ports.append(Port(as_str(item.get("name")), number, as_str(item.get("protocol")) or "TCP",
                                  (*path, "ports", j)))
    return Pod(template, tuple(ports))


@dataclass
class Cluster:
    """The objects of one unit the check reads."""

    pods: list[Pod] = field(default_factory=list)
    services: dict[tuple[str, str], Document] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    policies: list[Document] = field(default_factory=list)
    docs: list[Document] = field(default_factory=list)
    #: id(pod) -> (the pod, kept so the id stays its own; its discovery labels, ``_pod_meta``):
    #: every scrape job's service discovery meets every pod.
    pod_meta: dict[int, tuple[Pod, dict[str, str]]] = field(default_factory=dict)

    def labels_of_namespace(self, name: str) -> dict[str, str]:
        """A namespace's labels: the unit's Namespace object's, else only the name label the API
        server puts on every namespace."""
        return {**self.namespace_labels.get(name, {}), NAMESPACE_NAME_LABEL: name}

    def selected(self, service: Document) -> list[Pod]:
        selector = as_dict(service.spec.get("selector"))
        if not selector:
            return []
        return [p for p in self.pods if p.namespace == service.namespace
                and all(p.labels.get(k) == str(v) for k, v in selector.items())]


def index(docs: Sequence[Document]) -> Cluster:
    cluster = Cluster(docs=[d for d in docs if d.is_object and d.kind])
    for doc in cluster.docs:
        key = (doc.group, doc.kind)
        if key == ("", "Service"):
            cluster.services.setdefault((doc.namespace, doc.name), doc)
        elif key == ("", "Namespace"):
            labels = as_dict(doc.metadata.get("labels"))
            cluster.namespace_labels[doc.name] = {str(k): str(v) for k, v in labels.items()}
        elif key == ("networking.k8s.io", "NetworkPolicy"):
            cluster.policies.append(doc)
        elif doc.kind in k8s.WORKLOAD_KINDS and (template := k8s.pod_template(doc)) is not None:
            cluster.pods.append(_pod(template))
    return cluster


# -- flows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    """Connections from ``source`` (pods, or None for an address: ``source_name``) to ``target``'s
    pods on ``port``/``protocol`` (``port_name`` the container port's name, if any)."""

    source: Pod | None
    source_name: str
    target: Pod
    port: int
    protocol: str
    why: str

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.source_name, self.target.ref, self.port, self.protocol)

    @property
    def port_text(self) -> str:
        named = self.target.port(self.port, self.protocol)
        return f"{self.port}/{self.protocol}" + (f" ({named.name})" if named and named.name else "")

    def describe(self) -> str:
        """One line quoting at most ``CLIP`` characters of each name the input gave."""
        return f"flow from {clip(self.source_name)} to {clip(self.target.ref)} port {clip(self.port_text)}"


def _service_port_targets(cluster: Cluster, service: Document, port: dict[str, Any]
                          ) -> Iterator[tuple[Pod, int, str]]:
    """(pod, container port number, protocol) behind one Service port."""
    protocol = as_str(port.get("protocol")) or "TCP"
    target = port.get("targetPort", port.get("port"))
    for pod in cluster.selected(service):
        if isinstance(target, int):
            yield pod, target, protocol
        elif isinstance(target, str) and (named := pod.named(target, protocol)):
            yield pod, named.number, protocol


def _mounting(cluster: Cluster, config_map: Document) -> list[Pod]:
    """The pods that mount ``config_map`` as a volume."""
    out = []
    for pod in cluster.pods:
        if pod.namespace != config_map.namespace:
            continue
        for volume in as_list(pod.template.spec.get("volumes")):
            if as_str(as_dict(as_dict(volume).get("configMap")).get("name")) == config_map.name:
                out.append(pod)
                break
    return out


def _load(text: str) -> dict[str, Any]:
    """A ConfigMap value as a mapping, bounded as every input is ({} when it is not YAML)."""
    try:
        parsed = yamlsafe.load_single(text)
    except yaml.YAMLError:
        return {}  # promtool's or the schema check's finding
    return as_dict(parsed.data) if parsed is not None else {}


_DIGITS = re.compile(r"[0-9]{1,5}")


@lru_cache(maxsize=8192)
def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _meta(prefix: str, values: Mapping[str, Any]) -> dict[str, str]:
    labels = {}
    for key, value in values.items():
        labels[f"__meta_kubernetes_{prefix}_{_sanitize(str(key))}"] = str(value)
        labels[f"__meta_kubernetes_{prefix}present_{_sanitize(str(key))}"] = "true"
    return labels


def _pod_meta(cluster: Cluster, pod: Pod) -> dict[str, str]:
    """The labels Kubernetes SD gives ``pod`` (a copy), computed once per pod of the unit."""
    known = cluster.pod_meta.get(id(pod))
    if known is None or known[0] is not pod:
        known = cluster.pod_meta[id(pod)] = (pod, _fresh_pod_meta(pod))
    return dict(known[1])


def _fresh_pod_meta(pod: Pod) -> dict[str, str]:
    return {"__meta_kubernetes_namespace": pod.namespace, "__meta_kubernetes_pod_name": pod.doc.name,
            "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_ready": "true",
            **_meta("pod_label", pod.labels), **_meta("pod_annotation", pod.template.annotations)}


def _sd_targets(cluster: Cluster, sd: dict[str, Any], own_namespace: str) -> Iterator[tuple[Pod, dict[str, str]]]:
    """(pod, labels before relabelling) of every target one Kubernetes SD config discovers in the unit."""
    role = as_str(sd.get("role"))
    namespaces_field = as_dict(sd.get("namespaces"))
    names = [as_str(n) for n in as_list(namespaces_field.get("names"))]
    if namespaces_field.get("own_namespace") is True:
        names.append(own_namespace)

    def wanted(namespace: str) -> bool:
        return not names or namespace in names

    if role in ("endpointslice", "endpoints"):
        kind = "endpointslice" if role == "endpointslice" else "endpoint"
        for (namespace, _), service in sorted(cluster.services.items()):
            if not wanted(namespace):
                continue
            service_meta = {"__meta_kubernetes_service_name": service.name,
                            **_meta("service_label", as_dict(service.metadata.get("labels"))),
                            **_meta("service_annotation", as_dict(service.metadata.get("annotations")))}
            for port in as_list(service.spec.get("ports")):
                port = as_dict(port)
                for pod, number, protocol in _service_port_targets(cluster, service, port):
                    yield pod, {**_pod_meta(cluster, pod), **service_meta,
                                f"__meta_kubernetes_{kind}_port_name": as_str(port.get("name")),
                                f"__meta_kubernetes_{kind}_port": str(number),
                                f"__meta_kubernetes_{kind}_port_protocol": protocol,
                                "__address__": f"{POD_ADDRESS}:{number}"}
    elif role == "pod":
        for pod in cluster.pods:
            if not wanted(pod.namespace) or pod.host_network:
                continue
            for port in pod.ports or (None,):
                labels = _pod_meta(cluster, pod)
                if port is None:
                    labels["__address__"] = POD_ADDRESS
                else:
                    labels.update({"__meta_kubernetes_pod_container_port_name": port.name,
                                   "__meta_kubernetes_pod_container_port_number": str(port.number),
                                   "__meta_kubernetes_pod_container_port_protocol": port.protocol,
                                   "__address__": f"{POD_ADDRESS}:{port.number}"})
                yield pod, labels


_GROUP_REF = re.compile(r"\$(\d+)|\$\{(\d+)\}")


def _expand(replacement: str, groups: tuple[str | None, ...]) -> str:
    """``$1`` / ``${1}`` in a replacement, as Prometheus expands them (a missing group is empty)."""
    def group(ref: re.Match[str]) -> str:
        n = int(ref.group(1) or ref.group(2))
        return (groups[n] or "") if n < len(groups) else ""

    return _GROUP_REF.sub(group, replacement)


def _relabel(labels: dict[str, str], rules: list[Any]) -> dict[str, str] | None:
    """Prometheus' keep, drop and replace over ``labels``; None when the target is dropped. Other
    actions change no label this check reads."""
    labels = dict(labels)
    for rule in rules:
        rule = as_dict(rule)
        action = as_str(rule.get("action")) or "replace"
        sources = [as_str(s) for s in as_list(rule.get("source_labels"))]
        value = (as_str(rule.get("separator")) or ";").join(labels.get(s, "") for s in sources)
        try:
            regex = re.compile(as_str(rule.get("regex")) or "(.*)")
        except re.error:
            continue
        match = regex.fullmatch(value)
        if (action == "keep" and match is None) or (action == "drop" and match is not None):
            return None
        if action == "replace" and match is not None and (target := as_str(rule.get("target_label"))):
            labels[target] = _expand(as_str(rule.get("replacement", "$1")), (match.group(0), *match.groups()))
    return labels


def _discovered(cluster: Cluster, config: dict[str, Any], own_namespace: str) -> Iterator[tuple[Pod, int]]:
    """(pod, port) of every target a scrape job (or Alertmanager discovery) finds in the unit."""
    for sd in as_list(config.get("kubernetes_sd_configs")):
        for pod, labels in _sd_targets(cluster, as_dict(sd), own_namespace):
            final = _relabel(labels, as_list(config.get("relabel_configs")))
            if final is None:
                continue
            _, _, port = final.get("__address__", "").rpartition(":")
            if _DIGITS.fullmatch(port):
                yield pod, int(port)


def _prometheus_flows(cluster: Cluster) -> Iterator[Flow]:
    for doc in cluster.docs:
        if (doc.group, doc.kind) != ("", "ConfigMap"):
            continue
        text = as_dict(doc.obj.get("data")).get("prometheus.yml")
        if not isinstance(text, str):
            continue
        sources = _mounting(cluster, doc)
        config = _load(text)
        discovered: list[tuple[str, dict[str, Any]]] = [
            (f"scrape job {as_str(as_dict(job).get('job_name'))}", as_dict(job))
            for job in as_list(config.get("scrape_configs"))]
        discovered += [("alerting", as_dict(am))
                       for am in as_list(as_dict(config.get("alerting")).get("alertmanagers"))]
        for why, job in discovered:
            for target, port in _discovered(cluster, job, doc.namespace):
                protocol = "TCP"
                for source in sources:
                    yield Flow(source, source.ref, target, port, protocol, why)


def _service_at(cluster: Cluster, host: str, client_namespace: str) -> Document | None:
    """The Service a cluster DNS name means: ``name``, ``name.ns``, ``name.ns.svc[.cluster.local]``."""
    parts = host.split(".")
    if len(parts) == 1:
        return cluster.services.get((client_namespace, parts[0]))
    if len(parts) == 2 or parts[2] == "svc":
        return cluster.services.get((parts[1], parts[0]))
    return None


def _url_flows(cluster: Cluster, source: Pod, url: str, why: str) -> Iterator[Flow]:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return
    if not parts.hostname:
        return
    service = _service_at(cluster, parts.hostname, source.namespace)
    if service is None:
        return
    for item in as_list(service.spec.get("ports")):
        item = as_dict(item)
        if item.get("port") == port:
            for pod, number, protocol in _service_port_targets(cluster, service, item):
                yield Flow(source, source.ref, pod, number, protocol, why)


def _grafana_flows(cluster: Cluster) -> Iterator[Flow]:
    for doc in cluster.docs:
        if (doc.group, doc.kind) != ("", "ConfigMap"):
            continue
        for text in as_dict(doc.obj.get("data")).values():
            if not isinstance(text, str) or "datasources:" not in text:
                continue
            data = _load(text)
            for source in _mounting(cluster, doc):
                for datasource in as_list(data.get("datasources")):
                    datasource = as_dict(datasource)
                    url = as_str(datasource.get("url"))
                    if url and as_str(datasource.get("access")) != "direct":
                        yield from _url_flows(cluster, source, url,
                                              f"Grafana datasource {as_str(datasource.get('name'))}")


def _api_service_flows(cluster: Cluster) -> Iterator[Flow]:
    for doc in cluster.docs:
        if (doc.group, doc.kind) != ("apiregistration.k8s.io", "APIService"):
            continue
        ref = as_dict(doc.spec.get("service"))
        service = cluster.services.get((as_str(ref.get("namespace")), as_str(ref.get("name"))))
        if service is None:
            continue
        wanted = ref.get("port", 443)
        for item in as_list(service.spec.get("ports")):
            item = as_dict(item)
            if item.get("port") == wanted:
                for pod, number, protocol in _service_port_targets(cluster, service, item):
                    yield Flow(None, API_SERVER, pod, number, protocol, f"APIService {doc.name}")


_URL_FLAG = re.compile(r"--[a-z0-9.-]+=(https?://\S+)")


def _url_flag_flows(cluster: Cluster) -> Iterator[Flow]:
    """A container flag whose value is a URL of a Service in the unit (the adapter's --prometheus-url)."""
    for pod in cluster.pods:
        for _, container in pod.template.containers():
            for arg in as_list(container.get("args")):
                if match := _URL_FLAG.fullmatch(as_str(arg)):
                    flag = as_str(arg).partition("=")[0]
                    yield from _url_flows(cluster, pod, match.group(1), f"{container.get('name')} {flag}")


def _node_port_flows(cluster: Cluster) -> Iterator[Flow]:
    """A NodePort or LoadBalancer Service is there to be reached from outside the cluster: from
    node or client addresses (kube-proxy may keep or replace the client's)."""
    for (namespace, name), service in sorted(cluster.services.items()):
        if service.spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        for item in as_list(service.spec.get("ports")):
            for pod, number, protocol in _service_port_targets(cluster, service, as_dict(item)):
                kind = as_str(service.spec.get("type"))
                yield Flow(None, OUTSIDE, pod, number, protocol, f"{kind} Service {namespace}/{name}")


#: The source of a routed flow: an Ingress controller's or a Gateway's proxy pods, which run
#: outside the rendered tree (their namespace and labels are the platform's).
PROXY = "the proxy"


def _backend_port(service: Document, wanted: Any) -> dict[str, Any] | None:
    for item in as_list(service.spec.get("ports")):
        item = as_dict(item)
        if wanted is not None and wanted in (item.get("port"), item.get("name")):
            return item
    return None


def _routed_flows(cluster: Cluster) -> Iterator[Flow]:
    """An Ingress' or HTTPRoute's backend Services are reached by the proxy pods that serve it."""
    for doc in cluster.docs:
        backends: list[tuple[str, Any]] = []
        if (doc.group, doc.kind) == ("networking.k8s.io", "Ingress"):
            for rule in as_list(doc.spec.get("rules")):
                for path in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
                    backend = as_dict(as_dict(as_dict(path).get("backend")).get("service"))
                    port = as_dict(backend.get("port"))
                    backends.append((as_str(backend.get("name")), port.get("number", port.get("name"))))
        elif (doc.group, doc.kind) == ("gateway.networking.k8s.io", "HTTPRoute"):
            for rule in as_list(doc.spec.get("rules")):
                for ref in as_list(as_dict(rule).get("backendRefs")):
                    ref = as_dict(ref)
                    if as_str(ref.get("kind")) in ("", "Service"):
                        backends.append((as_str(ref.get("name")), ref.get("port")))
        for name, wanted in backends:
            service = cluster.services.get((doc.namespace, name))
            item = _backend_port(service, wanted) if service is not None else None
            if service is None or item is None:
                continue
            for pod, number, protocol in _service_port_targets(cluster, service, item):
                yield Flow(None, f"{PROXY} of {doc.kind} {doc.namespace}/{doc.name}", pod, number, protocol,
                           f"{doc.kind} {doc.namespace}/{doc.name}")


def _mesh_flows(cluster: Cluster) -> Iterator[Flow]:
    for pod in cluster.pods:
        for _, container in pod.template.containers():
            for arg in as_list(container.get("args")):
                arg = as_str(arg)
                if not arg.startswith("--cluster.peer="):
                    continue
                host, _, port = arg.removeprefix("--cluster.peer=").rpartition(":")
                if not _DIGITS.fullmatch(port):
                    continue
                # <pod>.<headless service>.<namespace>.svc
                service = _service_at(cluster, host.partition(".")[2], pod.namespace)
                if service is None:
                    continue
                for target in cluster.selected(service):
                    for protocol in ("TCP", "UDP"):
                        yield Flow(pod, pod.ref, target, int(port), protocol, "Alertmanager mesh")


def needed_flows(cluster: Cluster) -> list[Flow]:
    """Every flow the unit's rendered objects need, each once with every reason for it."""
    seen: dict[tuple[str, str, int, str], Flow] = {}
    for flow in (*_prometheus_flows(cluster), *_grafana_flows(cluster), *_url_flag_flows(cluster),
                 *_api_service_flows(cluster), *_mesh_flows(cluster), *_node_port_flows(cluster),
                 *_routed_flows(cluster)):
        if flow.source is not None and flow.source.doc is flow.target.doc and flow.why != "Alertmanager mesh":
            continue  # a pod's connection to itself stays on loopback
        known = seen.get(flow.key)
        if known is None:
            seen[flow.key] = flow
        elif flow.why not in known.why.split("; "):
            seen[flow.key] = replace(known, why=f"{known.why}; {flow.why}")
    return list(seen.values())


# -- NetworkPolicy semantics ----------------------------------------------------------------------

def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every ``matchLabels`` pair and every ``matchExpressions`` requirement; ``{}`` matches all."""
    selector = as_dict(selector)
    for key, value in as_dict(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in as_list(selector.get("matchExpressions")):
        expression = as_dict(expression)
        key, operator = as_str(expression.get("key")), as_str(expression.get("operator"))
        values = {str(v) for v in as_list(expression.get("values"))}
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            ok = False
        if not ok:
            return False
    return True


def policy_types(policy: Document) -> list[str]:
    """``spec.policyTypes``, or the API server's default: Ingress, plus Egress with egress rules."""
    declared = policy.spec.get("policyTypes")
    if isinstance(declared, list):
        return [as_str(t) for t in declared]
    return ["Ingress", *(["Egress"] if as_list(policy.spec.get("egress")) else [])]


@dataclass(frozen=True)
class End:
    """One end of a connection: pods of a template, or an address (``pod`` None)."""

    pod: Pod | None
    name: str

    @property
    def is_address(self) -> bool:
        return self.pod is None or self.pod.host_network


def _peer_matches(cluster: Cluster, peer: Any, policy_namespace: str, end: End) -> bool:
    peer = as_dict(peer)
    if end.pod is None and end.name.startswith(PROXY):
        # Pods the check cannot see: admitted by a peer that selects some namespace beyond the
        # unit's own (their labels are unknown, so a podSelector beside it is taken on trust).
        if "namespaceSelector" not in peer:
            return False
        own = {NAMESPACE_NAME_LABEL: policy_namespace}
        match = as_dict(as_dict(peer["namespaceSelector"]).get("matchLabels"))
        return not match or (match != own and not (set(match) == {NAMESPACE_NAME_LABEL}
                                                    and match[NAMESPACE_NAME_LABEL] in _known_namespaces(cluster)))
    if "ipBlock" in peer:
        # Addresses the check cannot know: any block may hold them; never a pod's (see the module doc).
        return end.is_address and _valid_block(as_dict(peer["ipBlock"]))
    if end.is_address or end.pod is None:
        return False
    pod = end.pod
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], cluster.labels_of_namespace(pod.namespace)):
            return False
    elif pod.namespace != policy_namespace:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], pod.labels)
    return "namespaceSelector" in peer


def _valid_block(block: dict[str, Any]) -> bool:
    try:
        network = ipaddress.ip_network(as_str(block.get("cidr")), strict=False)
        excepted = [ipaddress.ip_network(as_str(e), strict=False) for e in as_list(block.get("except"))]
    except ValueError:
        return False
    # A block entirely excepted admits nothing.
    return not any(e.version == network.version and network.subnet_of(e) for e in excepted)  # type: ignore[arg-type]


def _port_matches(entry: Any, flow: Flow) -> bool:
    entry = as_dict(entry)
    if (as_str(entry.get("protocol")) or "TCP") != flow.protocol:
        return False
    port = entry.get("port")
    if port is None:
        return True
    if isinstance(port, int):
        end = entry.get("endPort")
        return port == flow.port or (isinstance(end, int) and port <= flow.port <= end)
    if isinstance(port, str):
        named = flow.target.named(port, flow.protocol)
        return named is not None and named.number == flow.port and not flow.target.host_network
    return False


def _rule_admits(cluster: Cluster, rule: Any, peers_key: str, policy_namespace: str, other: End, flow: Flow) -> bool:
    rule = as_dict(rule)
    peers, ports = as_list(rule.get(peers_key)), as_list(rule.get("ports"))
    return ((not peers or any(_peer_matches(cluster, p, policy_namespace, other) for p in peers))
            and (not ports or any(_port_matches(p, flow) for p in ports)))


def _selecting(cluster: Cluster, pod: Pod, direction: str) -> list[Document]:
    return [p for p in cluster.policies if p.namespace == pod.namespace and direction in policy_types(p)
            and selector_matches(p.spec.get("podSelector"), pod.labels)]


def blocked_at(cluster: Cluster, flow: Flow) -> tuple[str, list[Document]] | None:
    """``("ingress"|"egress", the isolating policies)`` when ``flow`` is refused; None when allowed."""
    source = End(flow.source, flow.source_name)
    target = End(flow.target, flow.target.ref)
    if flow.source is not None and not flow.source.host_network:
        isolating = _selecting(cluster, flow.source, "Egress")
        if isolating and not any(_rule_admits(cluster, r, "to", p.namespace, target, flow)
                                 for p in isolating for r in as_list(p.spec.get("egress"))):
            return "egress", isolating
    if not flow.target.host_network:
        isolating = _selecting(cluster, flow.target, "Ingress")
        if isolating and not any(_rule_admits(cluster, r, "from", p.namespace, source, flow)
                                 for p in isolating for r in as_list(p.spec.get("ingress"))):
            return "ingress", isolating
    return None


def _known_namespaces(cluster: Cluster) -> set[str]:
    return set(cluster.namespace_labels) | {p.namespace for p in cluster.pods}


def _hint(cluster: Cluster, flow: Flow, side: str, policies: Sequence[Document]) -> str:
    """Why the nearest rule misses: a port name the destination lacks, a namespace selector that
    matches no namespace, or peers that do not select the other end."""
    peers_key, other = ("from", End(flow.source, flow.source_name)) if side == "ingress" else (
        "to", End(flow.target, flow.target.ref))
    known = _known_namespaces(cluster)
    for policy in policies:
        for rule in as_list(policy.spec.get(side)):
            rule = as_dict(rule)
            peers, ports = as_list(rule.get(peers_key)), as_list(rule.get("ports"))
            peers_ok = not peers or any(_peer_matches(cluster, p, policy.namespace, other) for p in peers)
            ports_ok = not ports or any(_port_matches(p, flow) for p in ports)
            if peers_ok and not ports_ok:
                for entry in ports:
                    name = as_dict(entry).get("port")
                    if isinstance(name, str) and not any(p.name == name for p in flow.target.ports):
                        return (f"; a rule of {_names([policy])} names port {clip(repr(name), 40)}, which no "
                                "container of the destination has")
                return f"; a rule of {_names([policy])} admits it on other ports only"
            if ports_ok and not peers_ok:
                for peer in peers:
                    selector = as_dict(peer).get("namespaceSelector")
                    if selector is not None and not any(
                            selector_matches(selector, cluster.labels_of_namespace(n)) for n in known):
                        return (f"; a namespaceSelector of {_names([policy])} matches no namespace of "
                                "this unit")
    return ""


# -- the check ------------------------------------------------------------------------------------

def _names(policies: Sequence[Document], shown: int = 3) -> str:
    names = sorted(clip(f"{p.namespace}/{p.name}") for p in policies)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def check_reachability(docs: Sequence[Document]) -> list[Finding]:
    """One finding per needed flow some NetworkPolicy refuses, on the side that refuses it."""
    cluster = index(docs)
    if not cluster.policies:
        return []
    findings = []
    for flow in needed_flows(cluster):
        blocked = blocked_at(cluster, flow)
        if blocked is None:
            continue
        side, policies = blocked
        message = (f"{flow.describe()} is blocked: no {side} rule of NetworkPolicy {_names(policies)} admits it "
                   f"({clip(flow.why, 60)}){_hint(cluster, flow, side, policies)}")
        if side == "ingress":
            port = flow.target.port(flow.port, flow.protocol)
            path = port.path if port else flow.target.template.path
            findings.append(flow.target.doc.finding(path, message, REACHABILITY))
        else:
            assert flow.source is not None
            findings.append(flow.source.doc.finding(flow.source.template.path, message, REACHABILITY))
    return findings


def flow_report(docs: Sequence[Document]) -> list[str]:
    """One line per needed flow: allowed (and why it is needed) or blocked, in a stable order."""
    cluster = index(docs)
    lines = []
    for flow in sorted(needed_flows(cluster), key=lambda f: (f.source_name, f.target.ref, f.port, f.protocol)):
        blocked = blocked_at(cluster, flow)
        if blocked is not None:
            verdict = f"BLOCKED at {blocked[0]}"
        elif flow.target.host_network:
            verdict = "allowed (host network: no ingress policy applies)"
        else:
            verdict = "allowed"
        lines.append(f"{flow.describe()}: {verdict} [{clip(flow.why, 200)}]")
    return lines
