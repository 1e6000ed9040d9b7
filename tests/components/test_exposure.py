"""Each UI's exposure: ClusterIP by default, NodePort for a lab, an Ingress or HTTPRoute with TLS."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from cryptography import x509

from conftest import CLUSTERS, Rendered, find
from promstack.certs.sealing import dump_manifest, sealed_secret_manifest
from promstack.config.cluster import ClusterConfig, load_cluster, parse_spec
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.gitops.synth import warnings
from promstack.stack import MonitoringStack
from promstack.validate import validate_paths

SEALING_CERT = x509.load_pem_x509_certificate((CLUSTERS / "prod-example" / "sealing-cert.pem").read_bytes())


def render(folder: Path, out: Path) -> dict[str, dict[str, Any]]:
    """The stack of the cluster folder ``folder``, written to ``out`` (for the gate), by kind/name."""
    cluster = load_cluster(folder)
    app = cdk8s.App(outdir=str(out))
    MonitoringStack(app, cluster=cluster, inputs=load_inputs(cluster))
    app.synth()
    return {f"{o['kind']}/{o['metadata']['name']}": o for chart in app.charts for o in chart.to_json()}


def cluster_folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "clusters" / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    # The proxies of an Ingress or a Gateway are named as the UIs' NetworkPolicy peers.
    (folder / "cluster.yaml").write_text(text + "networkPolicy:\n  uiPeers:\n" + "".join(
        f"    {ui}: [{{namespace: gateway-system}}]\n" for ui in ("prometheus", "grafana", "alertmanager")))
    (folder / "prometheus-web-auth.sealedsecret.yaml").unlink()  # Prometheus is not exposed here
    return folder


def test_prod_example_opens_no_node_port_and_serves_grafana_over_tls(rendered: list[Rendered]) -> None:
    assert not [str(r) for r in rendered if r.cluster == "prod-example" and r.kind == "Service"
                and r.obj["spec"].get("type") == "NodePort"]
    ingress = find(rendered, "prod-example", "Ingress", "grafana")
    service = find(rendered, "prod-example", "Service", "grafana")
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "grafana", "port": {"name": "http"}}
    assert "http" in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["spec"]["tls"] == [{"hosts": [rule["host"]], "secretName": "grafana-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    env = {e["name"]: e.get("value") for e in
           find(rendered, "prod-example", "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GF_SERVER_ROOT_URL"] == f"https://{rule['host']}/" and env["GF_SECURITY_COOKIE_SECURE"] == "true"


def test_demo_keeps_its_node_ports_and_alertmanager_stays_in_the_cluster(rendered: list[Rendered]) -> None:
    for name, node_port in (("prometheus", 30090), ("grafana", 30300)):
        service = find(rendered, "demo", "Service", name)
        assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == node_port
    assert "type" not in find(rendered, "demo", "Service", "alertmanager")["spec"]
    assert not [str(r) for r in rendered if r.kind in {"Ingress", "HTTPRoute"} and r.cluster == "demo"]


def test_a_gateway_exposure_attaches_an_http_route_to_the_https_listener(tmp_path: Path) -> None:
    folder = cluster_folder(tmp_path, "alertmanager:\n  exposure:\n    type: gateway\n    host: am.example.com\n"
                                      "    gateway: {name: public, namespace: gateway-system, sectionName: https}\n"
                                      "    auth: none\n")
    objects = render(folder, tmp_path / "out")
    route = objects["HTTPRoute/alertmanager"]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["hostnames"] == ["am.example.com"]
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public",
                                            "namespace": "gateway-system", "sectionName": "https"}]
    service = objects["Service/alertmanager"]
    assert route["spec"]["rules"] == [{"backendRefs": [{"name": "alertmanager",
                                                        "port": service["spec"]["ports"][0]["port"]}]}]
    # The gate checks the HTTPRoute against the vendored Gateway API CRD's schema.
    assert validate_paths([tmp_path / "out"], run_promtool=False) == []


def test_an_ingress_takes_a_sealed_certificate_from_the_cluster_folder(tmp_path: Path) -> None:
    folder = cluster_folder(tmp_path, "grafana:\n  exposure:\n    type: ingress\n    host: g.example.com\n"
                                      "    tls: {sealed: true}\n")
    with pytest.raises(ConfigError) as caught:
        render(folder, tmp_path / "out")
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'grafana-tls.sealedsecret.yaml'}: (file): missing; ")
    assert ("promstack seal --cluster prod --name grafana-tls --type kubernetes.io/tls --from-file tls.crt=<cert.pem> "
            "--from-file tls.key=<key.pem>") in problem

    def seal(secret_type: str) -> None:
        manifest = sealed_secret_manifest(SEALING_CERT, name="grafana-tls", namespace="monitoring",
                                          data={"tls.crt": b"cert", "tls.key": b"key"}, secret_type=secret_type)
        (folder / "grafana-tls.sealedsecret.yaml").write_bytes(dump_manifest(manifest, generated_by="test"))

    seal("Opaque")
    with pytest.raises(ConfigError, match=r"spec\.template\.type: must be kubernetes\.io/tls"):
        render(folder, tmp_path / "out")
    seal("kubernetes.io/tls")
    objects = render(folder, tmp_path / "out")
    ingress = objects["Ingress/grafana"]
    assert ingress["spec"]["tls"] == [{"hosts": ["g.example.com"], "secretName": "grafana-tls"}]
    assert "annotations" not in ingress["metadata"] or not any(
        k.startswith("cert-manager.io/") for k in ingress["metadata"]["annotations"])
    sealed = objects["SealedSecret/grafana-tls"]
    assert sealed["spec"]["template"]["type"] == "kubernetes.io/tls"
    assert validate_paths([tmp_path / "out"], run_promtool=False) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"prometheus": {"exposure": {"type": "nodePort"}}},
     ["prometheus.exposure.type nodePort: its login crosses the network in plain HTTP"]),
    ({"prometheus": {"exposure": {"type": "nodePort", "auth": "none"}}},
     ["prometheus.exposure.auth none: prometheus is reachable from outside the cluster (type nodePort) with no login"]),
    ({"alertmanager": {"exposure": {"type": "gateway", "host": "am.example.com", "auth": "none",
                                    "gateway": {"name": "public", "sectionName": "https"}}}},
     ["alertmanager.exposure.auth none: alertmanager is reachable from outside the cluster (type gateway)"]),
    ({"grafana": {"exposure": {"type": "nodePort"}}},
     ["grafana.exposure.type nodePort: its login crosses the network in plain HTTP"]),
    ({"grafana": {"exposure": {"type": "ingress", "host": "g.example.com", "tls": {"clusterIssuer": "ca"}}},
      "prometheus": {"exposure": {"auth": "none"}}}, []),
])
def test_synth_warns_about_logins_in_clear_and_uis_exposed_without_one(spec: dict[str, Any],
                                                                      expected: list[str]) -> None:
    peers = {"networkPolicy": {"uiPeers": {ui: [{"namespace": "gateway-system"}] for ui in spec}}}
    cluster = ClusterConfig(name="c", path=Path("clusters/c"), spec=parse_spec(
        {"adapter": {"tls": {"mode": "cert-manager"}}, **spec, **peers}, "cluster.yaml"))
    found = [w for w in warnings(cluster) if ".exposure." in w]
    assert len(found) == len(expected) and all(w.startswith(f"cluster c: {e}") for w, e in zip(found, expected,
                                                                                               strict=True)), found
