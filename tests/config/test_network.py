"""networkPolicy in cluster.yaml: each bad input is one clear error naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promstack.config.cluster import load_cluster, parse_spec
from promstack.config.model import ConfigError
from promstack.config.network import NetworkPolicyConfig


def write_cluster(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "clusters" / "bad"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("networkPolicy:\n  apiServerCidrs: [10.0.0.1/16]\n",
         "networkPolicy.apiServerCidrs[0]: '10.0.0.1/16' has host bits set; write 10.0.0.0/16"),
        ("networkPolicy:\n  nodeCidrs: [10.0.0.0]\n",
         "networkPolicy.nodeCidrs[0]: '10.0.0.0' has no prefix length; write 10.0.0.0/32"),
        ("networkPolicy:\n  nodeCidrs: [nodes]\n",
         "networkPolicy.nodeCidrs[0]: 'nodes' is not a CIDR; write an address block such as 10.0.0.0/16"),
        ("networkPolicy:\n  uiPeers:\n    grafana: [{namespace: ingress-nginx, cidr: 10.0.0.0/8}]\n",
         "networkPolicy.uiPeers.grafana[0]: a peer is either pods (namespace, namespaceLabels, podLabels) or an "
         "address block (cidr), not both; split it into two peers"),
        ("networkPolicy:\n  uiPeers:\n    grafana: [{}]\n",
         "networkPolicy.uiPeers.grafana[0]: a peer needs namespace, namespaceLabels, podLabels or cidr; add one"),
        ("networkPolicy:\n  uiPeers:\n    prometheus: [{cidr: 10.0.0.0/8, except: [192.168.0.0/24]}]\n",
         "networkPolicy.uiPeers.prometheus[0]: except 192.168.0.0/24 is not inside cidr 10.0.0.0/8"),
        ("networkPolicy:\n  uiPeers:\n    alertmanager: [{podLabels: {'app/x/y': a}}]\n",
         "networkPolicy.uiPeers.alertmanager[0].podLabels: 'app/x/y' is not a label key"),
        ("networkPolicy:\n  egress: {enabled: true}\n",
         "networkPolicy: egress.enabled needs apiServerCidrs and nodeCidrs"),
        ("networkPolicy:\n  enabled: false\n  egress: {enabled: true}\n",
         "networkPolicy: egress.enabled needs enabled: true"),
    ],
)
def test_bad_network_policy_input_gives_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    folder = write_cluster(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    assert len(caught.value.problems) == 1, caught.value.problems
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'cluster.yaml'}: ")
    assert expected in problem, problem


def test_defaults_are_on_ingress_only_from_anywhere_for_the_api_server() -> None:
    config = NetworkPolicyConfig()
    assert config.enabled and not config.egress.enabled
    assert config.api_server_cidrs == () and config.ui_peers.grafana is None


def test_a_complete_egress_setting_loads(tmp_path: Path) -> None:
    folder = write_cluster(tmp_path, "networkPolicy:\n  apiServerCidrs: [10.0.0.10/32]\n"
                                     "  nodeCidrs: [10.0.0.0/24]\n  egress: {enabled: true}\n"
                                     "  uiPeers:\n    grafana: [{namespace: ingress-nginx}]\n")
    spec = load_cluster(folder).spec.network_policy
    assert spec.egress.enabled and spec.node_cidrs == ("10.0.0.0/24",)
    assert spec.ui_peers.grafana is not None and spec.ui_peers.grafana[0].namespace == "ingress-nginx"


def test_the_readmes_network_examples_load() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Network and access", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) >= 2
    for block in blocks:
        spec = parse_spec(yaml.safe_load(block), "README.md")
        assert spec.network_policy.enabled


@pytest.mark.parametrize(("ui", "exposure"), [
    ("grafana", {"type": "ingress", "host": "g.example.com", "tls": {"clusterIssuer": "ca"}}),
    ("prometheus", {"type": "gateway", "host": "p.example.com",
                    "gateway": {"name": "public", "namespace": "gw", "sectionName": "https"}}),
])
def test_a_ui_behind_an_ingress_or_gateway_names_the_proxy_pods(ui: str, exposure: dict[str, object]) -> None:
    from promstack.config.cluster import parse_spec
    from promstack.config.model import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_spec({ui: {"exposure": {**exposure, **({"auth": "none"} if ui == "prometheus" else {})}}}, "c.yaml")
    [problem] = caught.value.problems
    assert f"name them in networkPolicy.uiPeers.{ui}" in problem
    parse_spec({ui: {"exposure": {**exposure, **({"auth": "none"} if ui == "prometheus" else {})}},
                "networkPolicy": {"uiPeers": {ui: [{"namespace": "ingress-nginx"}]}}}, "c.yaml")
