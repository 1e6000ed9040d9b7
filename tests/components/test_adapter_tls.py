"""The adapter's TLS modes: what the adapter mounts and what the APIService trusts."""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from cryptography import x509

from conftest import CLUSTERS, Rendered, find
from promstack.components.base import StackContext
from promstack.components.prometheus import Prometheus
from promstack.components.prometheus_adapter import PrometheusAdapter
from promstack.config.cluster import load_cluster, parse_spec
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.gitops.synth import warnings
from promstack.stack import adapter_tls


def adapter_objects(cluster_dir: Path, **spec: Any) -> dict[str, dict[str, Any]]:
    """The adapter alone (its APIServices beside it), built as synth builds it from the cluster folder."""
    cluster = load_cluster(cluster_dir)
    if spec:
        cluster = replace(cluster, spec=parse_spec(spec, "test"))
    app = cdk8s.App()
    context = StackContext(namespace=cluster.namespace, instance=cluster.name)
    prometheus = Prometheus(cdk8s.Chart(app, "prometheus"), context=context)
    chart = cdk8s.Chart(app, "adapter")
    PrometheusAdapter(chart, prometheus=prometheus, settings=cluster.spec.adapter, context=context,
                      tls=adapter_tls(cluster, load_inputs(cluster)))
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in chart.to_json()}


def pod_spec(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = objects["Deployment/prometheus-adapter"]["spec"]["template"]["spec"]
    return spec


def test_sealed_mode_mounts_the_sealed_secret_and_trusts_the_ca_that_signed_it(rendered: list[Rendered]) -> None:
    sealed = find(rendered, "prod-example", "SealedSecret", "cm-adapter-serving-certs")
    assert sealed["metadata"]["namespace"] == "monitoring"
    assert set(sealed["spec"]["encryptedData"]) == {"serving.crt", "serving.key"}
    pod = find(rendered, "prod-example", "Deployment", "prometheus-adapter")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "cm-adapter-serving-certs"]
    assert volume["secret"]["secretName"] == sealed["spec"]["template"]["metadata"]["name"]
    args = pod["containers"][0]["args"]
    mount_path = next(m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert f"--tls-cert-file={mount_path}/serving.crt" in args
    assert f"--tls-private-key-file={mount_path}/serving.key" in args
    ca_pem = (CLUSTERS / "prod-example" / "adapter-ca.crt").read_bytes()
    for version in ("v1beta1", "v1beta2"):
        spec = find(rendered, "prod-example", "APIService", f"{version}.custom.metrics.k8s.io")["spec"]
        assert "insecureSkipTLSVerify" not in spec
        ca = x509.load_pem_x509_certificate(base64.b64decode(spec["caBundle"]))
        assert ca == x509.load_pem_x509_certificate(ca_pem)


def test_self_signed_mode_skips_verification_and_warns(rendered: list[Rendered],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    spec = find(rendered, "demo", "APIService", "v1beta1.custom.metrics.k8s.io")["spec"]
    assert spec["insecureSkipTLSVerify"] is True and "caBundle" not in spec
    adapter_objects(CLUSTERS / "demo")
    assert capsys.readouterr().err == "", "constructs never print; synth does"
    assert "insecureSkipTLSVerify" in " ".join(warnings(load_cluster(CLUSTERS / "demo")))


def test_cert_manager_mode_issues_a_certificate_and_injects_its_ca() -> None:
    objects = adapter_objects(CLUSTERS / "demo", adapter={"tls": {"mode": "cert-manager"}},
                              exampleApp={"enabled": True}, grafana={"adminSecret": "existing"})
    certificate = objects["Certificate/prometheus-adapter"]
    assert certificate["spec"]["secretName"] == "cm-adapter-serving-certs"
    assert certificate["spec"]["dnsNames"] == [
        "prometheus-adapter", "prometheus-adapter.monitoring", "prometheus-adapter.monitoring.svc",
        "prometheus-adapter.monitoring.svc.cluster.local"]
    assert certificate["spec"]["issuerRef"]["name"] in {o["metadata"]["name"] for o in objects.values()
                                                        if o["kind"] == "Issuer"}
    args = pod_spec(objects)["containers"][0]["args"]
    assert "--tls-cert-file=/var/run/serving-cert/tls.crt" in args
    assert "--tls-private-key-file=/var/run/serving-cert/tls.key" in args
    api = objects["APIService/v1beta1.custom.metrics.k8s.io"]
    assert api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "monitoring/prometheus-adapter"
    assert "insecureSkipTLSVerify" not in api["spec"] and "caBundle" not in api["spec"]


def test_sealed_mode_without_inputs_names_the_command_to_run(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "fresh"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("{}\n")
    with pytest.raises(ConfigError) as caught:
        adapter_objects(folder)
    assert any("adapter-serving-certs.sealedsecret.yaml: (file): missing for adapter.tls.mode sealed; run "
               "`promstack certs issue --cluster fresh --sealing-cert <controller-cert.pem>`" in p
               for p in caught.value.problems)


def test_sealed_input_for_another_namespace_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    (folder / "cluster.yaml").write_text("namespace: metrics\n")
    problem = "metadata.namespace: 'monitoring' is not the cluster's namespace 'metrics'"
    with pytest.raises(ConfigError, match=re.escape(problem)):
        adapter_objects(folder)


def test_renewing_the_serving_certificate_rolls_the_adapter(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    before = pod_spec(adapter_objects(folder))
    sealed_file = folder / "adapter-serving-certs.sealedsecret.yaml"
    doc = yaml.safe_load(sealed_file.read_text())
    doc["spec"]["encryptedData"]["serving.crt"] = "AgB" + doc["spec"]["encryptedData"]["serving.crt"][3:][::-1]
    sealed_file.write_text(yaml.safe_dump(doc))
    after_objects = adapter_objects(folder)
    key = "checksum/serving-cert"
    assert after_objects["Deployment/prometheus-adapter"]["spec"]["template"]["metadata"]["annotations"][key] != \
        adapter_objects(CLUSTERS / "prod-example")["Deployment/prometheus-adapter"]["spec"]["template"]["metadata"][
            "annotations"][key]
    assert before["volumes"] == pod_spec(after_objects)["volumes"]
