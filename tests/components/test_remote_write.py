"""Past one Prometheus: remote_write with sealed credentials, external labels, HA pairs."""

from __future__ import annotations

from typing import Any

import cdk8s
import pytest
import yaml

from conftest import CLUSTERS, Rendered, find
from promstack.components.prometheus import Prometheus
from promstack.config.cluster import PrometheusConfig
from relabel import relabel


def prometheus_yml(rendered: list[Rendered], cluster: str) -> dict[str, Any]:
    text = find(rendered, cluster, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def construct(settings: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    Prometheus(chart, settings=PrometheusConfig.model_validate(settings), **kwargs)
    return list(chart.to_json())


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def config_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [config_map] = [o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"] == "prometheus-config"]
    loaded: dict[str, Any] = yaml.safe_load(config_map["data"]["prometheus.yml"])
    return loaded


def test_credentials_are_files_of_the_mounted_sealed_secret_and_the_ca_a_file_of_the_cluster_folder(
        rendered: list[Rendered]) -> None:
    [endpoint] = prometheus_yml(rendered, "prod-example")["remote_write"]
    assert endpoint["url"] == "https://mimir.example.com/api/v1/push"
    assert endpoint["headers"] == {"X-Scope-OrgID": "platform"}
    assert endpoint["basic_auth"] == {"username": "prod-example",
                                      "password_file": "/etc/prometheus/remote-write/mimir-password"}
    assert endpoint["tls_config"] == {"ca_file": "/etc/prometheus/remote-write-ca/mimir-ca.crt"}
    sealed = find(rendered, "prod-example", "SealedSecret", "prometheus-remote-write")
    assert list(sealed["spec"]["encryptedData"]) == ["mimir-password"]
    ca = find(rendered, "prod-example", "ConfigMap", "prometheus-remote-write-ca")
    assert ca["data"] == {"mimir-ca.crt": (CLUSTERS / "prod-example" / "mimir-ca.crt").read_text()}
    pod = find(rendered, "prod-example", "StatefulSet", "prometheus")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert volumes[mounts["/etc/prometheus/remote-write"]["name"]]["secret"]["secretName"] == "prometheus-remote-write"
    assert volumes[mounts["/etc/prometheus/remote-write-ca"]["name"]]["configMap"]["name"] == \
        "prometheus-remote-write-ca"
    assert all(m["readOnly"] for m in mounts.values() if m["mountPath"].startswith("/etc/prometheus/remote-write"))


def test_write_relabel_configs_see_the_external_labels_and_drop_what_they_say(rendered: list[Rendered]) -> None:
    [endpoint] = prometheus_yml(rendered, "prod-example")["remote_write"]
    rules = endpoint["write_relabel_configs"]
    assert relabel({"__name__": "go_gc_duration_seconds", "cluster": "prod-example"}, rules) is None
    assert relabel({"__name__": "up", "cluster": "prod-example"}, rules) is not None


def test_every_prometheus_names_its_cluster_and_a_dollar_stays_a_dollar() -> None:
    plain = config_of(construct({}))["global"]["external_labels"]
    assert plain == {"cluster": "promstack"}  # the context's instance: promstack's own stacks use the cluster name
    labels = config_of(construct({"clusterLabel": {"name": "k8s_cluster", "value": "eu-1"},
                                  "externalLabels": {"cost_center": "a$b${HOME}"}}))["global"]["external_labels"]
    # Prometheus v3 expands $name and ${name} in external label values; $$ is a literal $.
    assert labels == {"k8s_cluster": "eu-1", "cost_center": "a$$b$${HOME}"}


def test_the_shipped_clusters_carry_their_name(rendered: list[Rendered]) -> None:
    assert prometheus_yml(rendered, "demo")["global"]["external_labels"] == {"cluster": "demo"}
    assert prometheus_yml(rendered, "prod-example")["global"]["external_labels"] == {
        "cluster": "prod-example", "region": "eu-west-1", "__replica__": "${POD_NAME}"}


def test_one_replica_renders_no_pair_machinery() -> None:
    objects = construct({})
    [sts] = of_kind(objects, "StatefulSet")
    assert sts["spec"]["replicas"] == 1 and "affinity" not in sts["spec"]["template"]["spec"]
    assert "env" not in sts["spec"]["template"]["spec"]["containers"][0]
    assert not of_kind(objects, "PodDisruptionBudget")
    assert all("sessionAffinity" not in s["spec"] for s in of_kind(objects, "Service"))
    assert "__replica__" not in yaml.safe_dump(config_of(objects))


def test_an_ha_pair_is_spread_protected_and_told_apart_by_its_pod_name(rendered: list[Rendered]) -> None:
    sts = find(rendered, "prod-example", "StatefulSet", "prometheus")
    pod = sts["spec"]["template"]["spec"]
    assert sts["spec"]["replicas"] == 2
    [term] = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in \
        pod["containers"][0]["env"]
    pdb = find(rendered, "prod-example", "PodDisruptionBudget", "prometheus")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": sts["spec"]["selector"]}
    # Grafana and the adapter query through the Service: each stays on one replica.
    assert find(rendered, "prod-example", "Service", "prometheus")["spec"]["sessionAffinity"] == "ClientIP"


def test_both_replicas_alert_as_one(rendered: list[Rendered]) -> None:
    """Alertmanager deduplicates identical label sets: the replica label must not reach it."""
    alerting = prometheus_yml(rendered, "prod-example")["alerting"]
    alert = {"alertname": "TargetDown", "cluster": "prod-example", "__replica__": "prometheus-0"}
    other = {**alert, "__replica__": "prometheus-1"}
    assert relabel(alert, alerting["alert_relabel_configs"]) == relabel(other, alerting["alert_relabel_configs"])
    assert "alert_relabel_configs" not in prometheus_yml(rendered, "demo")["alerting"]


@pytest.mark.parametrize(("auth", "rendered_auth"), [
    ({"bearerTokenSecret": "token"}, {"authorization": {"credentials_file": "/etc/prometheus/remote-write/token"}}),
    ({"oauth2": {"clientId": "promstack", "clientSecretSecret": "client-secret",
                 "tokenUrl": "https://idp.example.com/oauth2/token", "scopes": ["metrics.write"]}},
     {"oauth2": {"client_id": "promstack", "client_secret_file": "/etc/prometheus/remote-write/client-secret",
                 "token_url": "https://idp.example.com/oauth2/token", "scopes": ["metrics.write"]}}),
    ({"sigv4": {"region": "eu-west-1", "roleArn": "arn:aws:iam::123456789012:role/amp-writer"}},
     {"sigv4": {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/amp-writer"}}),
    ({"tls": {"caSecret": "ca.crt", "certSecret": "tls.crt", "keySecret": "tls.key"}},
     {"tls_config": {"ca_file": "/etc/prometheus/remote-write/ca.crt",
                     "cert_file": "/etc/prometheus/remote-write/tls.crt",
                     "key_file": "/etc/prometheus/remote-write/tls.key"}}),
])
def test_each_way_to_authenticate_reads_its_secret_from_a_file(auth: dict[str, Any],
                                                               rendered_auth: dict[str, Any]) -> None:
    settings = {"remoteWrite": [{"name": "store", "url": "https://store.example.com/api/v1/write", **auth}]}
    keys = PrometheusConfig.model_validate(settings).remote_write[0].secret_keys()
    sealed = {"metadata": {"name": "prometheus-remote-write", "namespace": "monitoring"},
              "spec": {"encryptedData": dict.fromkeys(keys, "AgB...")}}
    [endpoint] = config_of(construct(settings, remote_write_secret=sealed if keys else None))["remote_write"]
    assert endpoint == {"name": "store", "url": "https://store.example.com/api/v1/write", **rendered_auth}


def test_a_construct_refuses_a_sealed_secret_without_the_keys_the_endpoints_name() -> None:
    settings = {"remoteWrite": [{"name": "s", "url": "https://s.example.com/w", "bearerTokenSecret": "t"}]}
    with pytest.raises(ValueError, match="remote_write_secret lacks the keys t that remoteWrite name"):
        construct(settings)

