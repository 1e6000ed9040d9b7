"""Behaviour that matters per component, read from the rendered objects as a cluster would."""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import cdk8s
import yaml

from conftest import Rendered, find
from promstack.config.cluster import ClusterConfig, parse_spec
from promstack.config.inputs import ClusterInputs
from promstack.stack import MonitoringStack


def container_ports(workload: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for c in workload["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])}


def selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def args_of(workload: dict[str, Any]) -> list[str]:
    args: list[str] = workload["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_prometheus_service_targets_the_container_port_on_nodeport_30090(rendered: list[Rendered]) -> None:
    service = find(rendered, "demo", "Service", "prometheus")
    statefulset = find(rendered, "demo", "StatefulSet", "prometheus")
    assert selects(service, statefulset)
    [service_port] = service["spec"]["ports"]
    assert service["spec"]["type"] == "NodePort" and service_port["nodePort"] == 30090
    assert container_ports(statefulset)[service_port["targetPort"]] == 9090


def test_every_service_selects_a_workload_and_targets_a_real_port(rendered: list[Rendered]) -> None:
    for r in (r for r in rendered if r.kind == "Service"):
        workloads = [w.obj for w in rendered if w.cluster == r.cluster and w.kind in {"Deployment", "StatefulSet",
                     "DaemonSet"} and selects(r.obj, w.obj)]
        assert len(workloads) == 1, f"{r}: selects {len(workloads)} workloads"
        for p in r.obj["spec"]["ports"]:
            assert p["targetPort"] in container_ports(workloads[0]), f"{r}: targetPort {p['targetPort']}"


def test_apiservices_point_at_the_adapter_service_on_443(rendered: list[Rendered]) -> None:
    adapter_service = find(rendered, "demo", "Service", "prometheus-adapter")
    deployment = find(rendered, "demo", "Deployment", "prometheus-adapter")
    for version in ("v1beta1", "v1beta2"):
        spec = find(rendered, "demo", "APIService", f"{version}.custom.metrics.k8s.io")["spec"]
        assert spec["group"] == "custom.metrics.k8s.io" and spec["version"] == version
        assert spec["service"] == {"name": "prometheus-adapter", "namespace": "monitoring", "port": 443}
    [port] = adapter_service["spec"]["ports"]
    assert port["port"] == 443 and container_ports(deployment)[port["targetPort"]] == 6443


def test_adapter_queries_the_prometheus_service(rendered: list[Rendered]) -> None:
    deployment = find(rendered, "demo", "Deployment", "prometheus-adapter")
    [url] = [a.removeprefix("--prometheus-url=") for a in args_of(deployment) if a.startswith("--prometheus-url=")]
    service = find(rendered, "demo", "Service", "prometheus")
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}


def test_adapter_rbac_covers_delegation_auth_reader_resources_and_the_hpa_controller(rendered: list[Rendered]) -> None:
    bindings = {(r.kind, r.namespace, r.obj["roleRef"]["name"]): r.obj["subjects"]
                for r in rendered if r.cluster == "demo" and r.kind in {"ClusterRoleBinding", "RoleBinding"}}
    adapter_sa = [{"kind": "ServiceAccount", "name": "prometheus-adapter", "namespace": "monitoring"}]
    assert bindings[("ClusterRoleBinding", None, "system:auth-delegator")] == adapter_sa
    assert bindings[("RoleBinding", "kube-system", "extension-apiserver-authentication-reader")] == adapter_sa
    assert bindings[("ClusterRoleBinding", None, "monitoring-prometheus-adapter-resource-reader")] == adapter_sa
    assert bindings[("ClusterRoleBinding", None, "monitoring-prometheus-adapter-custom-metrics-reader")] == [
        {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}]


def test_adapter_config_holds_the_six_upstream_rules_plus_cluster_rules(rendered: list[Rendered]) -> None:
    config_map = find(rendered, "prod-example", "ConfigMap", "prometheus-adapter-config")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert len(config["rules"]) == 6
    demo = yaml.safe_load(find(rendered, "demo", "ConfigMap", "prometheus-adapter-config")["data"]["config.yaml"])
    assert demo["rules"][:6] == config["rules"] and demo["rules"][6]["name"]["as"] == "${1}_per_second"
    assert all({"seriesQuery", "resources", "name", "metricsQuery"} <= set(rule) for rule in config["rules"])


def test_prod_example_adapter_has_two_replicas_and_a_disruption_budget(rendered: list[Rendered]) -> None:
    assert find(rendered, "prod-example", "Deployment", "prometheus-adapter")["spec"]["replicas"] == 2
    assert find(rendered, "prod-example", "PodDisruptionBudget", "prometheus-adapter")["spec"]["minAvailable"] == 1


def test_prometheus_scrapes_kubelet_and_cadvisor_on_10250_with_the_token(rendered: list[Rendered]) -> None:
    config = yaml.safe_load(find(rendered, "demo", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= {"kubernetes-apiservers", "kubernetes-nodes", "kubernetes-cadvisor", "node-exporter",
                         "kube-state-metrics", "kubernetes-service-endpoints", "kubernetes-pods"}
    for name in ("kubernetes-nodes", "kubernetes-cadvisor"):
        assert jobs[name]["scheme"] == "https"
        assert jobs[name]["authorization"]["credentials_file"].endswith("serviceaccount/token")
    assert jobs["kubernetes-cadvisor"]["metrics_path"] == "/metrics/cadvisor"
    assert "10255" not in str(config) and "4194" not in str(config)
    assert jobs["kube-state-metrics"]["honor_labels"] is True


def test_prometheus_storage_and_retention(rendered: list[Rendered]) -> None:
    demo = find(rendered, "demo", "StatefulSet", "prometheus")["spec"]
    prod = find(rendered, "prod-example", "StatefulSet", "prometheus")["spec"]
    assert demo["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in demo["volumeClaimTemplates"][0]["spec"]
    claim = prod["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi" and claim["storageClassName"] == "fast-ssd"
    assert "--storage.tsdb.retention.time=30d" in prod["template"]["spec"]["containers"][0]["args"]


def test_node_exporter_runs_on_every_node_with_host_access(rendered: list[Rendered]) -> None:
    pod = find(rendered, "demo", "DaemonSet", "node-exporter")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] and pod["hostPID"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    args = pod["containers"][0]["args"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    for flag, host_path in (("procfs", "/proc"), ("sysfs", "/sys"), ("rootfs", "/")):
        mount_path = next(a.split("=", 1)[1] for a in args if a.startswith(f"--path.{flag}="))
        volume = next(v for v in pod["volumes"] if v["name"] == mounts[mount_path]["name"])
        assert volume["hostPath"]["path"] == host_path and mounts[mount_path]["readOnly"] is True
    service = find(rendered, "demo", "Service", "node-exporter")
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["ports"][0]["port"] == 9100


def test_grafana_datasources_are_the_prometheus_and_alertmanager_services(rendered: list[Rendered]) -> None:
    config_map = find(rendered, "demo", "ConfigMap", "grafana-datasources")
    datasources = yaml.safe_load(config_map["data"]["datasources.yaml"])
    # The fleet's hub (clusters/fleet.yaml) is a second prometheus datasource: key by uid.
    by_type = {source["uid"].removeprefix("promstack-"): source for source in datasources["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prometheus.monitoring.svc:9090"
    assert by_type["prometheus"]["isDefault"] is True
    alertmanager = find(rendered, "demo", "Service", "alertmanager")
    assert by_type["alertmanager"]["url"] == f"http://alertmanager.monitoring.svc:{alertmanager['spec']['ports'][0]['port']}"
    assert by_type["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    env = {e["name"]: e.get("value") for e in
           find(rendered, "demo", "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_AUTH_BASIC_ENABLED"] == "false"  # passwords only at the login form, never on the API
    assert not any("INFLUX" in k for k in env)


def _render_stack(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The whole stack of a cluster whose cluster.yaml is ``spec``, keyed by kind/name."""
    data = {"adapter": {"tls": {"mode": "self-signed"}}, **spec}
    cluster = ClusterConfig(name="reload", path=Path("clusters/reload"), spec=parse_spec(data, "cluster.yaml"))
    app = cdk8s.App()
    MonitoringStack(app, cluster=cluster, inputs=ClusterInputs())
    objects: dict[str, dict[str, Any]] = {}
    for chart in app.charts:
        for obj in chart.to_json():
            objects[f"{obj['kind']}/{obj['metadata']['name']}"] = obj
    return objects


def test_rules_thresholds_and_scrape_config_reach_prometheus_without_a_pod_restart() -> None:
    """A new alert threshold or scrape interval changes only a ConfigMap: the StatefulSet's pod
    template (what Kubernetes compares to decide on a rollout) is byte for byte the same, so the
    running pod keeps its TSDB head and reloads the files the kubelet swaps in."""
    base = _render_stack({})
    threshold = _render_stack({"alerts": {"filesystemFreePercentWarning": 20.0}})
    interval = _render_stack({"prometheus": {"scrapeInterval": "15s"}})
    pod_template = base["StatefulSet/prometheus"]["spec"]["template"]
    for changed, config_map in ((threshold, "ConfigMap/prometheus-rules"), (interval, "ConfigMap/prometheus-config")):
        assert changed[config_map]["data"] != base[config_map]["data"], f"{config_map} must carry the change"
        assert changed["StatefulSet/prometheus"]["spec"]["template"] == pod_template
    assert "Filesystem has less than 20% space left." in threshold["ConfigMap/prometheus-rules"]["data"][
        "alerts.rules.yaml"]
    assert "checksum/config" not in base["StatefulSet/prometheus"]["spec"]["template"]["metadata"].get(
        "annotations", {})


def test_prometheus_reloads_its_config_and_rules_from_whole_directory_mounts(rendered: list[Rendered]) -> None:
    statefulset = find(rendered, "demo", "StatefulSet", "prometheus")
    pod = statefulset["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]
    assert "--enable-feature=auto-reload-config" in args
    assert "--config.auto-reload-interval=30s" in args
    config_file = next(a.split("=", 1)[1] for a in args if a.startswith("--config.file="))
    config = yaml.safe_load(find(rendered, "demo", "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    [rule_glob] = config["rule_files"]
    rules = find(rendered, "demo", "ConfigMap", "prometheus-rules")["data"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path, config_map, keys in ((config_file, "prometheus-config", ["prometheus.yml"]),
                                   (rule_glob, "prometheus-rules", list(rules))):
        directory = str(PurePosixPath(path).parent)
        [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
        # A subPath mount is a bind mount of one file: the kubelet never updates it.
        assert "subPath" not in mount and "subPathExpr" not in mount, mount
        assert volumes[mount["name"]]["configMap"]["name"] == config_map
        # The glob Prometheus loads (and checksums) matches every key of the rules ConfigMap.
        assert all(fnmatch.fnmatch(f"{directory}/{key}", path) for key in keys)


def _grafana_pod(rendered: list[Rendered], cluster: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = find(rendered, cluster, "Deployment", "grafana")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return pod, container


def test_grafana_admin_password_is_a_file_of_the_sealed_secret(rendered: list[Rendered]) -> None:
    sealed = find(rendered, "prod-example", "SealedSecret", "grafana-admin")
    assert "admin-password" in sealed["spec"]["encryptedData"]
    pod, container = _grafana_pod(rendered, "prod-example")
    env = {e["name"]: e for e in container["env"]}
    # A file, never an environment variable holding the password.
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    password_file = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]["value"]
    [admin_mount] = [m for m in container["volumeMounts"] if password_file.startswith(m["mountPath"] + "/")]
    [volume] = [v for v in pod["volumes"] if v["name"] == admin_mount["name"]]
    assert volume["secret"]["secretName"] == "grafana-admin" and "optional" not in volume["secret"]
    assert password_file.rsplit("/", 1)[1] in sealed["spec"]["encryptedData"]
    # The sealed file has no admin-user key: the user is fixed, never read from a file that is not there.
    assert env["GF_SECURITY_ADMIN_USER"]["value"] == "admin" and "GF_SECURITY_ADMIN_USER__FILE" not in env
    assert not [r for r in rendered if r.cluster == "demo" and r.kind == "SealedSecret"]


def test_demo_grafana_reads_a_secret_created_by_hand_never_admin_admin(rendered: list[Rendered]) -> None:
    pod, container = _grafana_pod(rendered, "demo")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/admin/admin-password"
    assert env["GF_SECURITY_ADMIN_USER__FILE"] == "/etc/grafana/admin/admin-user"
    assert not {"GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_ADMIN_USER"} & set(env)
    # A required volume: without the Secret the pod waits, it never starts with Grafana's admin/admin.
    [volume] = [v for v in pod["volumes"] if v["name"] == "admin"]
    assert volume["secret"] == {"secretName": "grafana-admin", "defaultMode": 0o440}
    assert not [r for r in rendered if r.cluster == "demo" and r.kind == "Secret"]


def test_grafana_persistence_is_a_claim_that_is_never_pruned(rendered: list[Rendered]) -> None:
    claim = find(rendered, "prod-example", "PersistentVolumeClaim", "grafana-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false"
    assert claim["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    volumes = find(rendered, "prod-example", "Deployment", "grafana")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "grafana-data"}} in volumes
    demo = find(rendered, "demo", "Deployment", "grafana")["spec"]["template"]["spec"]["volumes"]
    assert any(v["name"] == "data" and "emptyDir" in v for v in demo)
