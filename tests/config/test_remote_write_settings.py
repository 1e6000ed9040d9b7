"""prometheus.remoteWrite, external labels and replicas in cluster.yaml: each bad input one clear error."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import CLUSTERS
from promstack.config.cluster import load_cluster, parse_spec
from promstack.config.fleet import parse_fleet
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError

MIMIR = {"name": "mimir", "url": "https://mimir.example.com/api/v1/push"}


def problem_of(prometheus: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_spec({"prometheus": prometheus}, "clusters/x/cluster.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


@pytest.mark.parametrize(("endpoint", "path", "expected"), [
    ({**MIMIR, "basicAuth": {"username": "u", "password": "s3cr3t"}}, "remoteWrite[0].basicAuth",
     "password: a secret never goes into a promstack file; seal it into "
     "clusters/<cluster>/prometheus-remote-write.sealedsecret.yaml with `promstack seal --cluster <cluster> "
     "--name prometheus-remote-write --from-file <key>=<file>` and set basicAuth.passwordSecret: <key>"),
    ({**MIMIR, "bearerToken": "s3cr3t"}, "remoteWrite[0]", "set bearerTokenSecret: <key>"),
    ({**MIMIR, "oauth2": {"clientId": "c", "clientSecret": "s3cr3t", "tokenUrl": "https://idp.example.com/t"}},
     "remoteWrite[0].oauth2", "set oauth2.clientSecretSecret: <key>"),
    ({**MIMIR, "sigv4": {"region": "eu-west-1", "secretKey": "s3cr3t"}}, "remoteWrite[0].sigv4",
     "set sigv4.roleArn (the pod's AWS identity): <key>"),
    ({**MIMIR, "headers": {"Authorization": "Bearer s3cr3t"}}, "remoteWrite[0]",
     "headers: 'Authorization' would carry a credential in plain text; authenticate with basicAuth"),
    ({**MIMIR, "headers": {"X-Api-Key": "s3cr3t"}}, "remoteWrite[0]", "would carry a credential in plain text"),
    ({**MIMIR, "headers": {"Content-Type": "x"}}, "remoteWrite[0]", "is set by Prometheus itself; remove it"),
    ({**MIMIR, "url": "https://u:s3cr3t@mimir.example.com/api/v1/push"}, "remoteWrite[0].url",
     "holds user:password@, a credential in git; write https://host[:port]/path and seal the credential"),
    ({**MIMIR, "url": "http://mimir/api/v1/push", "bearerTokenSecret": "t"}, "remoteWrite[0]",
     "bearerTokenSecret over http:// sends the credential in clear text; use https://"),
    ({**MIMIR, "bearerTokenSecret": "t", "basicAuth": {"username": "u", "passwordSecret": "p"}}, "remoteWrite[0]",
     "basicAuth and bearerTokenSecret are both set; give one way to authenticate"),
    ({**MIMIR, "writeRelabelConfigs": [{"sourceLabels": ["__name__"], "regex": "(?!go_).*", "action": "keep"}]},
     "remoteWrite[0].writeRelabelConfigs[0].regex", "is not an RE2 regular expression"),
    ({**MIMIR, "tls": {"caFile": "../ca.crt"}}, "remoteWrite[0].tls.caFile", "is not a file of the cluster folder"),
    ({**MIMIR, "tls": {"certSecret": "c"}}, "remoteWrite[0].tls", "needs both certSecret and keySecret"),
    ({**MIMIR, "queueConfig": {"minShards": 5, "maxShards": 2}}, "remoteWrite[0].queueConfig",
     "minShards 5 is above maxShards 2"),
])
def test_a_bad_endpoint_is_one_clear_error_without_the_secret(endpoint: dict[str, Any], path: str,
                                                               expected: str) -> None:
    problem = problem_of({"remoteWrite": [endpoint]})
    assert problem.startswith(f"clusters/x/cluster.yaml: prometheus.{path}: "), problem
    assert expected in problem
    assert "s3cr3t" not in problem


@pytest.mark.parametrize(("prometheus", "expected"), [
    ({"remoteWrite": [MIMIR, MIMIR]}, "prometheus: remoteWrite: names mimir are used twice"),
    ({"externalLabels": {"cluster": "x"}},
     "prometheus: externalLabels: cluster is set by clusterLabel or replicaLabel"),
    ({"clusterLabel": {"name": "k8s"}, "externalLabels": {"__replica__": "x"}}, "externalLabels: __replica__ is set"),
    ({"externalLabels": {"bad-name": "x"}}, "prometheus.externalLabels: 'bad-name' is not a Prometheus label name"),
    ({"replicas": 4}, "prometheus.replicas: must be less than or equal to 3"),
    ({"mode": "agent"}, "mode agent keeps no TSDB and only forwards samples: add a remoteWrite endpoint"),
])
def test_bad_labels_and_replicas_are_one_clear_error(prometheus: dict[str, Any], expected: str) -> None:
    assert expected in problem_of(prometheus)


def prod_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "prod"
    shutil.copytree(CLUSTERS / "prod-example", folder)
    return folder


def with_prometheus(folder: Path, **changes: Any) -> Any:
    cluster = load_cluster(folder)
    spec = cluster.spec.model_dump(by_alias=True, mode="json", exclude_defaults=True)
    spec["prometheus"].update(changes)
    return replace(cluster, spec=parse_spec(spec, "test"))


def test_a_key_missing_from_the_sealed_secret_names_the_file_and_the_command(tmp_path: Path) -> None:
    folder = prod_copy(tmp_path)
    endpoint = {**MIMIR, "name": "thanos", "bearerTokenSecret": "thanos-token"}
    cluster = with_prometheus(folder, remoteWrite=[*load_cluster(folder).spec.model_dump(
        by_alias=True, mode="json")["prometheus"]["remoteWrite"], endpoint])
    with pytest.raises(ConfigError) as caught:
        load_inputs(cluster)
    [problem] = caught.value.problems
    assert "prometheus-remote-write.sealedsecret.yaml: spec.encryptedData: missing thanos-token" in problem
    assert ("promstack seal --cluster prod --name prometheus-remote-write --from-file mimir-password=<file> "
            "--from-file thanos-token=<file>") in problem


def test_a_missing_sealed_file_names_the_command(tmp_path: Path) -> None:
    folder = prod_copy(tmp_path)
    (folder / "prometheus-remote-write.sealedsecret.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_inputs(load_cluster(folder))
    [problem] = caught.value.problems
    assert problem.endswith("prometheus-remote-write.sealedsecret.yaml: (file): missing; prometheus.remoteWrite in "
                            "cluster.yaml name the sealed keys mimir-password; run `promstack seal --cluster prod "
                            "--name prometheus-remote-write --from-file mimir-password=<file>`")


@pytest.mark.parametrize(("content", "expected"), [
    (None, "prometheus.remoteWrite[0].tls.caFile: {folder}/mimir-ca.crt does not exist; put the CA certificate"),
    ("not a certificate\n", "prometheus.remoteWrite[0].tls.caFile: {folder}/mimir-ca.crt is not PEM certificates"),
])
def test_a_ca_file_that_is_missing_or_no_certificate_is_refused(tmp_path: Path, content: str | None,
                                                                 expected: str) -> None:
    folder = prod_copy(tmp_path)
    ca = folder / "mimir-ca.crt"
    ca.unlink()
    if content is not None:
        ca.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_inputs(load_cluster(folder))
    [problem] = caught.value.problems
    assert expected.format(folder=folder) in problem


@pytest.mark.parametrize(("hub", "expected"), [
    ({"queryUrl": "https://m.example.com/prometheus", "basicAuth": {"username": "u", "password": "s3cr3t"}},
     "hub.basicAuth: password: a secret never goes into a promstack file; seal it into "
     "clusters/<cluster>/fleet-hub.sealedsecret.yaml with `promstack seal --cluster <cluster> --name fleet-hub"),
    ({"queryUrl": "https://m.example.com/prometheus", "headers": {"Authorization": "Bearer s3cr3t"}},
     "hub: headers: 'Authorization' would carry a credential in plain text"),
    ({"queryUrl": "http://m.example.com/prometheus", "bearerTokenSecret": "t"},
     "hub: credentials over http:// travel in clear text; use https://"),
    ({"queryUrl": "https://u:s3cr3t@m.example.com/prometheus"}, "hub.queryUrl: holds user:password@"),
])
def test_a_bad_hub_is_one_clear_error_without_the_secret(hub: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet({"repoURL": "https://git.example.com/p/promstack.git", "hub": hub}, "clusters/fleet.yaml")
    [problem] = caught.value.problems
    assert problem.startswith(f"clusters/fleet.yaml: {expected}"), problem
    assert "s3cr3t" not in problem
