"""Opt-in control-plane scraping and a team's own scrape jobs, typed in cluster.yaml."""

from __future__ import annotations

import re
from typing import Any

import cdk8s
import pytest
import yaml

from conftest import Rendered, find
from promstack.components.prometheus import Prometheus
from promstack.config.cluster import PrometheusConfig, parse_spec
from promstack.config.model import ConfigError
from relabel import relabel


def jobs_of(rendered: list[Rendered], cluster: str) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(find(rendered, cluster, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    return {job["job_name"]: job for job in config["scrape_configs"]}


def static_pod(component: str, ip: str) -> dict[str, str]:
    return {"__address__": ip, "__meta_kubernetes_namespace": "kube-system", "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_name": f"{component}-cp1", "__meta_kubernetes_pod_node_name": "cp1",
            "__meta_kubernetes_pod_label_component": component}


def test_the_control_plane_is_not_scraped_unless_asked(rendered: list[Rendered]) -> None:
    assert not {"kube-scheduler", "kube-controller-manager", "etcd", "coredns"} & set(jobs_of(rendered, "demo"))


@pytest.mark.parametrize(("job_name", "port", "scheme"), [
    ("kube-scheduler", 10259, "https"), ("kube-controller-manager", 10257, "https"), ("etcd", 2381, "http")])
def test_static_control_plane_pods_are_scraped_on_their_kubeadm_port(rendered: list[Rendered], job_name: str,
                                                                     port: int, scheme: str) -> None:
    job = jobs_of(rendered, "prod-example")[job_name]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["kube-system"]}}]
    assert job.get("scheme", "http") == scheme
    if scheme == "https":
        assert job["authorization"]["credentials_file"].endswith("/serviceaccount/token")
    kept = relabel(static_pod(job_name, "10.0.0.11"), job["relabel_configs"])
    assert kept is not None and kept["__address__"] == f"10.0.0.11:{port}" and kept["node"] == "cp1"
    assert relabel(static_pod("kube-apiserver", "10.0.0.11"), job["relabel_configs"]) is None


def test_coredns_is_scraped_through_the_kube_dns_service(rendered: list[Rendered]) -> None:
    job = jobs_of(rendered, "prod-example")["coredns"]
    endpoint = {"__address__": "10.1.0.5:9153", "__meta_kubernetes_namespace": "kube-system",
                "__meta_kubernetes_service_name": "kube-dns", "__meta_kubernetes_endpointslice_port": "9153",
                "__meta_kubernetes_pod_name": "coredns-1"}
    assert relabel(endpoint, job["relabel_configs"]) is not None
    assert relabel({**endpoint, "__meta_kubernetes_endpointslice_port": "53"}, job["relabel_configs"]) is None


def test_an_extra_job_reads_its_token_from_the_mounted_sealed_secret(rendered: list[Rendered]) -> None:
    job = jobs_of(rendered, "prod-example")["billing-api"]
    assert job["authorization"] == {"credentials_file": "/etc/prometheus/secrets/billing-api-token"}
    assert job["kubernetes_sd_configs"] == [{"role": "endpointslice", "namespaces": {"names": ["billing"]}}]
    assert job["tls_config"] == {"insecure_skip_verify": True} and job["scheme"] == "https"
    sealed = find(rendered, "prod-example", "SealedSecret", "prometheus-scrape-secrets")
    assert "billing-api-token" in sealed["spec"]["encryptedData"]
    pod = find(rendered, "prod-example", "StatefulSet", "prometheus")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "prometheus-scrape-secrets"]
    assert {"name": volume["name"], "mountPath": "/etc/prometheus/secrets", "readOnly": True} in \
        pod["containers"][0]["volumeMounts"]
    text = find(rendered, "prod-example", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    assert "example-billing" not in text


@pytest.mark.parametrize(("job", "problem"), [
    ({"jobName": "x", "role": "pod", "bearerToken": "s3cr3t"},
     "bearerToken: a credential never goes into cluster.yaml; seal it with `promstack seal --cluster <cluster> "
     "--name prometheus-scrape-secrets"),
    ({"jobName": "x", "role": "pod", "basicAuth": {"username": "u", "password": "p"}}, "password: a credential never"),
    ({"jobName": "kubernetes-pods", "role": "pod"}, "job names kubernetes-pods are taken"),
    ({"jobName": "etcd", "role": "pod"}, "job names etcd are taken"),
    ({"jobName": "x", "role": "pod", "staticTargets": ["a:1"]}, "give exactly one of role"),
    ({"jobName": "x"}, "give exactly one of role"),
    ({"jobName": "x", "staticTargets": ["a:1"], "namespaces": ["b"]}, "namespaces limit Kubernetes service discovery"),
    ({"jobName": "x", "role": "pod", "relabelings": [{"sourceLabels": ["a"], "regex": "(?=x)", "action": "keep"}]},
     "'(?=x)' is not an RE2 regular expression (invalid perl operator: (?=); RE2 has no lookahead"),
    ({"jobName": "x", "role": "pod", "relabelings": [{"regex": "x", "action": "keep"}]}, "needs sourceLabels"),
    ({"jobName": "x\n", "role": "pod"}, "is not a job name"),
    ({"jobName": "x", "staticTargets": ["a:1\n"]}, "is not host:port"),
])
def test_a_bad_extra_job_is_one_clear_error(job: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"prometheus": {"extraScrapeConfigs": [job]}}, "clusters/x/cluster.yaml")
    assert len(caught.value.problems) == 1 and problem in caught.value.problems[0], caught.value.problems
    assert "s3cr3t" not in caught.value.problems[0]


def test_prometheus_may_discover_ingresses_only_when_a_job_asks() -> None:
    def rules(settings: PrometheusConfig) -> list[dict[str, Any]]:
        chart = cdk8s.Chart(cdk8s.App(), "test")
        Prometheus(chart, settings=settings)
        [role] = [o for o in chart.to_json() if o["kind"] == "ClusterRole"]
        return list(role["rules"])

    assert not [r for r in rules(PrometheusConfig()) if "ingresses" in r.get("resources", [])]
    ingress = PrometheusConfig.model_validate({"extraScrapeConfigs": [{"jobName": "blackbox", "role": "ingress"}]})
    assert {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list", "watch"]} in \
        rules(ingress)


def test_a_construct_refuses_a_scrape_secret_without_the_keys_its_jobs_name() -> None:
    settings = PrometheusConfig.model_validate({"extraScrapeConfigs": [
        {"jobName": "x", "staticTargets": ["a:1"], "bearerTokenSecret": "x-token"}]})
    with pytest.raises(ValueError, match=re.escape("scrape_secret lacks the keys x-token")):
        Prometheus(cdk8s.Chart(cdk8s.App(), "test"), settings=settings)
