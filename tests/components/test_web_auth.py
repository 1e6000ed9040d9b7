"""Basic auth on an exposed Prometheus or Alertmanager, and every in-cluster client logging in."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import cdk8s
import pytest
import yaml
from cryptography import x509

from conftest import CLUSTERS, Rendered, find
from promstack.certs.sealing import dump_manifest, sealed_secret_manifest
from promstack.config.cluster import load_cluster
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.gitops.synth import warnings
from promstack.stack import MonitoringStack
from promstack.validate import validate_paths

SEALING_CERT = x509.load_pem_x509_certificate((CLUSTERS / "prod-example" / "sealing-cert.pem").read_bytes())


def pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def secret_key_at(pod_spec: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key) of the file ``path`` in ``container``: the mount holding it and its volume."""
    parent = str(PurePosixPath(path).parent)
    [volume_mount] = [m for m in container["volumeMounts"] if m["mountPath"] == parent]
    [volume] = [v for v in pod_spec["volumes"] if v["name"] == volume_mount["name"]]
    key = PurePosixPath(path).name
    items = volume["secret"].get("items")
    assert items is None or {"key": key, "path": key} in items, f"{path} is not projected from {volume}"
    return volume["secret"]["secretName"], key


def test_prod_example_prometheus_behind_basic_auth_and_every_client_logs_in(rendered: list[Rendered]) -> None:
    statefulset = find(rendered, "prod-example", "StatefulSet", "prometheus")
    spec = pod(statefulset)
    [container] = spec["containers"]
    web_config = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--web.config.file="))
    assert secret_key_at(spec, container, web_config) == ("prometheus-web-auth", "web-config.yml")
    sealed = find(rendered, "prod-example", "SealedSecret", "prometheus-web-auth")
    assert set(sealed["spec"]["encryptedData"]) == {"web-config.yml", "client-password", "adapter-auth.kubeconfig"}
    # The kubelet cannot send a password from a file: probes check the listener.
    assert container["readinessProbe"]["tcpSocket"] == {"port": "web"} and "httpGet" not in container["livenessProbe"]

    config = yaml.safe_load(find(rendered, "prod-example", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    [self_scrape] = [job for job in config["scrape_configs"] if job["job_name"] == "prometheus"]
    assert self_scrape["basic_auth"]["username"] == "promstack"
    assert secret_key_at(spec, container, self_scrape["basic_auth"]["password_file"]) == (
        "prometheus-web-auth", "client-password")

    datasources = yaml.safe_load(find(rendered, "prod-example", "ConfigMap", "grafana-datasources")["data"][
        "datasources.yaml"])["datasources"]
    [source] = [s for s in datasources if s["name"] == "Prometheus"]  # the Fleet datasource is the hub's
    assert source["basicAuth"] is True and source["basicAuthUser"] == "promstack"
    password_file = re.fullmatch(r"\$__file\{(.+)\}", source["secureJsonData"]["basicAuthPassword"])
    assert password_file
    grafana = find(rendered, "prod-example", "Deployment", "grafana")
    assert secret_key_at(pod(grafana), pod(grafana)["containers"][0], password_file[1]) == (
        "prometheus-web-auth", "client-password")
    assert "checksum/prometheus-web-auth" in grafana["spec"]["template"]["metadata"]["annotations"]

    adapter = find(rendered, "prod-example", "Deployment", "prometheus-adapter")
    [adapter_container] = pod(adapter)["containers"]
    auth_config = next(a.split("=", 1)[1] for a in adapter_container["args"]
                       if a.startswith("--prometheus-auth-config="))
    assert secret_key_at(pod(adapter), adapter_container, auth_config) == (
        "prometheus-web-auth", "adapter-auth.kubeconfig")
    # The adapter reads it at start only: a new password changes its pod template, so it rolls.
    assert "checksum/prometheus-web-auth" in adapter["spec"]["template"]["metadata"]["annotations"]


def test_demo_prometheus_without_auth_is_an_explicit_choice_that_warns(rendered: list[Rendered]) -> None:
    [container] = pod(find(rendered, "demo", "StatefulSet", "prometheus"))["containers"]
    assert not [a for a in container["args"] if a.startswith("--web.config.file")]
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    [warning] = [w for w in warnings(load_cluster(CLUSTERS / "demo")) if "auth" in w]
    assert warning == ("cluster demo: prometheus.exposure.auth none: prometheus is reachable from outside the cluster "
                       "(type nodePort) with no login; seal basic auth with `promstack seal-web-auth` and drop auth: "
                       "none")
    assert not [w for w in warnings(load_cluster(CLUSTERS / "prod-example")) if "auth" in w]


def seal_web_auth(folder: Path, ui: str, keys: tuple[str, ...]) -> None:
    manifest = sealed_secret_manifest(SEALING_CERT, name=f"{ui}-web-auth", namespace="monitoring",
                                      data=dict.fromkeys(keys, b"sealed"))
    (folder / f"{ui}-web-auth.sealedsecret.yaml").write_bytes(dump_manifest(manifest, generated_by="test"))


def test_alertmanager_behind_basic_auth_prometheus_grafana_and_the_reloader_log_in(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    spec = yaml.safe_load((folder / "cluster.yaml").read_text())
    spec["alertmanager"]["exposure"] = {"type": "ingress", "host": "alertmanager.example.com",
                                        "tls": {"clusterIssuer": "letsencrypt-prod"}}
    spec["networkPolicy"]["uiPeers"]["alertmanager"] = [{"namespace": "ingress-nginx"}]
    (folder / "cluster.yaml").write_text(yaml.safe_dump(spec))
    cluster = load_cluster(folder)
    assert cluster.spec.alertmanager.exposure.basic_auth
    with pytest.raises(ConfigError) as caught:
        load_inputs(cluster)
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'alertmanager-web-auth.sealedsecret.yaml'}: (file): missing; ")
    assert "run `promstack seal-web-auth --cluster prod --ui alertmanager --password-file <file>`" in problem
    seal_web_auth(folder, "alertmanager", ("web-config.yml", "client-password"))

    app = cdk8s.App(outdir=str(tmp_path / "out"))
    MonitoringStack(app, cluster=cluster, inputs=load_inputs(cluster))
    app.synth()
    objects = {f"{o['kind']}/{o['metadata']['name']}": o for chart in app.charts for o in chart.to_json()}
    statefulset = objects["StatefulSet/alertmanager"]
    alertmanager, reloader = pod(statefulset)["containers"]
    web_config = next(a.split("=", 1)[1] for a in alertmanager["args"] if a.startswith("--web.config.file="))
    assert secret_key_at(pod(statefulset), alertmanager, web_config) == ("alertmanager-web-auth", "web-config.yml")
    # The reloader has no password flag: the kubelet expands the Secret-backed variable into the URL.
    reload_url = next(a for a in reloader["args"] if a.startswith("--reload-url="))
    assert reload_url == "--reload-url=http://promstack:$(WEB_AUTH_PASSWORD)@127.0.0.1:9093/-/reload"
    assert reloader["env"] == [{"name": "WEB_AUTH_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "alertmanager-web-auth", "key": "client-password"}}}]
    assert "checksum/alertmanager-web-auth" in statefulset["spec"]["template"]["metadata"]["annotations"]

    prometheus = objects["StatefulSet/prometheus"]
    [prometheus_container] = pod(prometheus)["containers"]
    config = yaml.safe_load(objects["ConfigMap/prometheus-config"]["data"]["prometheus.yml"])
    [target] = config["alerting"]["alertmanagers"]
    [scrape] = [job for job in config["scrape_configs"] if job["job_name"] == "alertmanager"]
    for auth in (target["basic_auth"], scrape["basic_auth"]):
        assert auth["username"] == "promstack"
        assert secret_key_at(pod(prometheus), prometheus_container, auth["password_file"]) == (
            "alertmanager-web-auth", "client-password")
    datasources = yaml.safe_load(objects["ConfigMap/grafana-datasources"]["data"]["datasources.yaml"])["datasources"]
    [source] = [s for s in datasources if s["type"] == "alertmanager"]
    assert source["basicAuth"] is True and source["secureJsonData"]["basicAuthPassword"].startswith("$__file{")
    # The whole render passes the gate: schemas, wiring, and promtool/amtool on the configurations.
    assert validate_paths([tmp_path / "out"]) == []


def test_credentials_nothing_uses_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    seal_web_auth(folder, "alertmanager", ("web-config.yml", "client-password"))
    with pytest.raises(ConfigError, match=r"alertmanager has no basic auth \(alertmanager\.exposure\.auth\), so "
                                          r"these credentials would never be used"):
        load_inputs(load_cluster(folder))
