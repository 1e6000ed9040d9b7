"""Alertmanager: routing as typed config, receiver secrets only sealed, HA peers, wired to Prometheus."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from conftest import CLUSTERS, Rendered, find
from promstack.components import Alertmanager, Prometheus
from promstack.config.alerting import AlertmanagerConfig
from promstack.config.cluster import load_cluster, parse_spec
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.gitops.synth import warnings


def alertmanager_objects(settings: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    secret = None
    if secret_keys:
        secret = {"metadata": {"name": "alertmanager-receivers", "namespace": "monitoring"},
                  "spec": {"encryptedData": {key: "AgB" + key for key in secret_keys}}}
    Alertmanager(chart, settings=AlertmanagerConfig.model_validate(settings), receivers_secret=secret)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in chart.to_json()}


def rendered_config(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(objects["ConfigMap/alertmanager-config"]["data"]["alertmanager.yml"])
    return config


def test_prod_example_routes_by_severity_with_secrets_only_as_files(rendered: list[Rendered]) -> None:
    config_map = find(rendered, "prod-example", "ConfigMap", "alertmanager-config")
    text = config_map["data"]["alertmanager.yml"]
    config = yaml.safe_load(text)
    routes = {route["matchers"][0]: route["receiver"] for route in config["route"]["routes"]}
    assert routes == {'alertname="Watchdog"': "heartbeat", 'severity="critical"': "pager",
                      'severity="warning"': "chat"}
    secret_paths = re.findall(r"\w+_file: (\S+)", text)
    assert secret_paths and all(p.startswith("/etc/alertmanager/secrets/") for p in secret_paths)
    sealed = find(rendered, "prod-example", "SealedSecret", "alertmanager-receivers")
    assert {p.rsplit("/", 1)[1] for p in secret_paths} <= set(sealed["spec"]["encryptedData"])
    assert "hooks.slack" not in text and "example-pagerduty" not in text
    pod = find(rendered, "prod-example", "StatefulSet", "alertmanager")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "alertmanager-receivers"


def test_three_replicas_form_one_mesh_spread_over_nodes_with_a_disruption_budget(rendered: list[Rendered]) -> None:
    stateful_set = find(rendered, "prod-example", "StatefulSet", "alertmanager")
    assert stateful_set["spec"]["replicas"] == 3
    args = stateful_set["spec"]["template"]["spec"]["containers"][0]["args"]
    peers = [a for a in args if a.startswith("--cluster.peer=")]
    assert peers == [f"--cluster.peer=alertmanager-{i}.alertmanager-headless.monitoring.svc:9094" for i in range(3)]
    headless = find(rendered, "prod-example", "Service", "alertmanager-headless")
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert {(p["port"], p["protocol"]) for p in headless["spec"]["ports"]} >= {(9094, "TCP"), (9094, "UDP")}
    affinity = stateful_set["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert find(rendered, "prod-example", "PodDisruptionBudget", "alertmanager")["spec"]["maxUnavailable"] == 1


def test_one_replica_runs_without_a_mesh_or_budget(rendered: list[Rendered]) -> None:
    args = find(rendered, "demo", "StatefulSet", "alertmanager")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cluster.listen-address=" in args and not [a for a in args if a.startswith("--cluster.peer")]
    assert not [r for r in rendered if r.cluster == "demo" and r.kind == "PodDisruptionBudget"
                and r.name == "alertmanager"]


def test_prometheus_sends_alerts_to_every_replica_and_scrapes_them(rendered: list[Rendered]) -> None:
    config = yaml.safe_load(find(rendered, "prod-example", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    [target] = config["alerting"]["alertmanagers"]
    assert target["relabel_configs"][0]["regex"] == "alertmanager-headless;web"
    assert target["kubernetes_sd_configs"] == [{"role": "endpointslice", "namespaces": {"names": ["monitoring"]}}]
    assert "alertmanager" in [job["job_name"] for job in config["scrape_configs"]]


def test_an_inline_secret_is_refused_with_the_seal_command() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"alertmanager": {"receivers": [
            {"name": "chat", "slack": [{"apiUrl": "https://hooks.slack.example/T/B/x"}]}]}}, "clusters/x/cluster.yaml")
    [problem] = caught.value.problems
    assert problem.startswith("clusters/x/cluster.yaml: alertmanager.receivers[0].slack[0]: apiUrl: a secret never ")
    assert "promstack seal --cluster <cluster> --name alertmanager-receivers" in problem
    assert "set apiUrlSecret: <key>" in problem
    assert "hooks.slack" not in problem


def test_a_receiver_key_missing_from_the_sealed_secret_names_the_file_and_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    cluster = load_cluster(folder)
    spec = cluster.spec.model_dump(by_alias=True, mode="json", exclude_defaults=True)
    spec["alertmanager"]["receivers"].append({"name": "mail", "email": [{
        "to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:587",
        "authUsername": "am", "authPasswordSecret": "smtp-password"}]})
    with pytest.raises(ConfigError) as caught:
        load_inputs(replace(cluster, spec=parse_spec(spec, "test")))
    [problem] = caught.value.problems
    assert "alertmanager-receivers.sealedsecret.yaml: spec.encryptedData: missing smtp-password" in problem
    assert "--from-file smtp-password=<file>" in problem


def test_routing_to_an_unknown_receiver_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"routing.critical: no receiver is named 'pagr'"):
        parse_spec({"alertmanager": {"routing": {"critical": "pagr"}}}, "test")


def test_route_matcher_values_are_quoted_so_they_cannot_inject_a_matcher() -> None:
    objects = alertmanager_objects({"receivers": [{"name": "team", "webhook": [{"urlSecret": "team-url"}]}],
                                    "routing": {"routes": [{"receiver": "team",
                                                            "matchers": {"namespace": 'shop",severity="x'}}]}},
                                   secret_keys=("team-url",))
    [user_route] = [r for r in rendered_config(objects)["route"]["routes"] if r["receiver"] == "team"]
    assert user_route["matchers"] == ['namespace="shop\\",severity=\\"x"']


def test_a_construct_refuses_a_secret_without_the_keys_its_receivers_name() -> None:
    with pytest.raises(ValueError, match="receivers_secret lacks the keys team-url"):
        alertmanager_objects({"receivers": [{"name": "team", "webhook": [{"urlSecret": "team-url"}]}]})


def test_synth_warns_when_alerts_go_nowhere() -> None:
    assert any("alerts go nowhere" in w for w in warnings(load_cluster(CLUSTERS / "demo")))
    assert not any("alerts go nowhere" in w for w in warnings(load_cluster(CLUSTERS / "prod-example")))


def test_prometheus_without_alertmanager_has_no_alerting_block() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "test")
    Prometheus(chart)
    [config_map] = [o for o in chart.to_json() if o["metadata"]["name"] == "prometheus-config"]
    assert "alerting" not in yaml.safe_load(config_map["data"]["prometheus.yml"])


def test_a_routing_change_reaches_alertmanager_without_a_pod_restart() -> None:
    receivers = {"receivers": [{"name": "team", "webhook": [{"urlSecret": "team-url"}]}]}
    before = alertmanager_objects({**receivers, "routing": {"warning": "team"}}, secret_keys=("team-url",))
    after = alertmanager_objects({**receivers, "routing": {"critical": "team", "repeatInterval": "1h"}},
                                 secret_keys=("team-url",))
    assert rendered_config(before) != rendered_config(after)
    template = "StatefulSet/alertmanager"
    assert before[template]["spec"]["template"] == after[template]["spec"]["template"]
    [reloader] = [c for c in before[template]["spec"]["template"]["spec"]["containers"]
                  if c["name"] == "config-reloader"]
    assert "--reload-url=http://127.0.0.1:9093/-/reload" in reloader["args"]
    assert {"--watched-dir=/etc/alertmanager", "--watched-dir=/etc/alertmanager/secrets"} <= set(reloader["args"])
    assert not any("subPath" in m for c in before[template]["spec"]["template"]["spec"]["containers"]
                   for m in c["volumeMounts"]), "subPath mounts never see ConfigMap updates"
