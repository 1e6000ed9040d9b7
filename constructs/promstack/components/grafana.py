"""Grafana with its Prometheus datasource provisioned as code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.alertmanager import Alertmanager
from promstack.components.base import (
    Component,
    StackContext,
    add_sealed_secret,
    check_config_map_size,
    checksum,
    config_map_volume,
    empty_dir,
    hardened_container,
    http_probe,
    mount,
)
from promstack.components.hub import FleetHub
from promstack.components.prometheus import Prometheus
from promstack.config import names, versions, yamlio
from promstack.config.cluster import GrafanaConfig
from promstack.config.versions import Image
from promstack.content.dashboards import DATASOURCE_UID, dashboards

PORT = 3000
GRAFANA_UID = 472
#: Why Grafana keeps the image's uid rather than one above HIGH_UID.
UID_REASON = ("the Grafana image owns its paths as uid 472 and persistent volumes already hold Grafana's "
              "database as that uid; a higher uid needs their files re-owned first")
PROVISIONING_DIR = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "/var/lib/grafana-dashboards"
DASHBOARD_FOLDER = "promstack"
#: Where the extra (team) dashboards are mounted, and the Grafana folder they are provisioned into.
EXTRA_DASHBOARDS_DIR = "/var/lib/grafana-dashboards-team"
EXTRA_DASHBOARD_FOLDER = "team"


#: The Alertmanager datasource's uid (stable, so links and alert views keep working).
ALERTMANAGER_DATASOURCE_UID = "promstack-alertmanager"


#: The uid of the fleet's central store as a datasource (when clusters/fleet.yaml names a hub).
FLEET_DATASOURCE_UID = "fleet"


def datasources(prometheus_url: str, alertmanager_url: str | None = None, *, hub: FleetHub | None = None,
                hub_only: bool = False) -> str:
    """Prometheus (the default), Alertmanager and, with a ``hub``, the fleet's store. ``hub_only``
    (Prometheus in agent mode has no query API) makes the default datasource the hub itself."""
    sources: list[dict[str, Any]]
    if hub_only and hub is not None:
        sources = [hub.grafana_datasource(name="Prometheus", uid=DATASOURCE_UID, default=True)]
    else:
        sources = [{
            "name": "Prometheus",
            "uid": DATASOURCE_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": prometheus_url,
            "isDefault": True,
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "30s"},
        }]
        if hub is not None:
            sources.append(hub.grafana_datasource(name="Fleet", uid=FLEET_DATASOURCE_UID, default=False))
    if alertmanager_url:
        # Grafana shows the alerts and silences of this Alertmanager; it manages no rules of its own.
        sources.append({
            "name": "Alertmanager",
            "uid": ALERTMANAGER_DATASOURCE_UID,
            "type": "alertmanager",
            "access": "proxy",
            "url": alertmanager_url,
            "editable": False,
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        })
    return yamlio.dump({"apiVersion": 1, "datasources": sources})


def dashboard_providers(*, extra: bool = False) -> str:
    """A file provider reading the dashboards ConfigMap into one folder (and, with ``extra``, a
    second one reading the extra dashboards into the folder ``team``); edits in the UI are refused,
    because the next sync would overwrite them."""
    folders = [(DASHBOARD_FOLDER, DASHBOARDS_DIR)] + ([(EXTRA_DASHBOARD_FOLDER, EXTRA_DASHBOARDS_DIR)] if extra else [])
    return yamlio.dump(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": folder,
                    "folder": folder,
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 60,
                    "options": {"path": path},
                }
                for folder, path in folders
            ],
        }
    )


class Grafana(Component):
    """Grafana on a NodePort Service (80 -> 3000), datasources from ``prometheus.service_url`` and,
    when given, ``alertmanager.url``.

    Anonymous access, sign-up, update checks and usage reporting are off. ``admin_secret`` is the
    sealed admin Secret (a SealedSecret manifest with keys admin-password and, optionally,
    admin-user; promstack reads it from clusters/<name>/grafana-admin.sealedsecret.yaml); without
    it Grafana starts with admin/admin and forces a new password at the first login.
    ``extra_dashboards`` (file name ``<name>.json`` -> dashboard JSON, e.g. a team's own, which
    promstack reads from clusters/<name>/dashboards/) go into a ConfigMap of their own, provisioned
    read-only into the folder ``team``. ``deployment`` and ``service`` are the L1 objects.
    """

    def __init__(self, scope: Construct, id_: str = names.GRAFANA, *, prometheus: Prometheus,
                 settings: GrafanaConfig = GrafanaConfig(), context: StackContext = StackContext(),
                 admin_secret: dict[str, Any] | None = None, alertmanager: Alertmanager | None = None,
                 image: Image = versions.GRAFANA, extra_dashboards: Mapping[str, str] | None = None,
                 hub: FleetHub | None = None, hub_only: bool = False) -> None:
        super().__init__(scope, id_, context=context, component="dashboards", image=image)
        config = settings
        self.datasources_text = datasources(prometheus.service_url, alertmanager.url if alertmanager else None,
                                            hub=hub, hub_only=hub_only)
        self.service_account(automount=False)
        # With a hub the dashboards get a cluster variable: All locally, this cluster when the
        # default datasource is the hub itself (agent mode).
        self.dashboards = dashboards(cluster_label=hub.cluster_label[0] if hub else None,
                                     cluster=hub.cluster_label[1] if hub and hub_only else None)
        self.extra_dashboards = dict(sorted((extra_dashboards or {}).items()))
        providers = dashboard_providers(extra=bool(self.extra_dashboards))
        provisioning = {"datasources": {"datasources.yaml": self.datasources_text},
                        "dashboard-providers": {"promstack.yaml": providers},
                        "dashboards": self.dashboards}
        mounts = [("datasources", f"{PROVISIONING_DIR}/datasources"),
                  ("dashboard-providers", f"{PROVISIONING_DIR}/dashboards"), ("dashboards", DASHBOARDS_DIR)]
        if self.extra_dashboards:
            provisioning["team-dashboards"] = self.extra_dashboards
            mounts.append(("team-dashboards", EXTRA_DASHBOARDS_DIR))
        for suffix, data in provisioning.items():
            check_config_map_size(f"Grafana {self.app_name!r}", self.name(suffix), data)
            k8s.KubeConfigMap(self, suffix, metadata=self.meta(self.name(suffix)), data=data)

        environment = {
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_PATHS_PROVISIONING": PROVISIONING_DIR,
            "GF_SERVER_HTTP_PORT": str(PORT),
        }
        container = hardened_container(
            name="grafana",
            image=image,
            resources=config.resources,
            run_as_user=GRAFANA_UID,
            env=[k8s.EnvVar(name=k, value=v) for k, v in environment.items()] + self._admin_credentials(admin_secret),
            ports=[k8s.ContainerPort(name="http", container_port=PORT, protocol="TCP")],
            volume_mounts=[
                *(mount(volume, path) for volume, path in mounts),
                mount("data", "/var/lib/grafana", read_only=False),
                mount("tmp", "/tmp", read_only=False),
                *(hub.mounts() if hub else []),
            ],
            readiness=http_probe("/api/health", "http", initial_delay=10),
            liveness=http_probe("/api/health", "http", initial_delay=60),
        )
        self.deployment = k8s.KubeDeployment(
            self, "deployment",
            metadata=self.meta(),
            spec=k8s.DeploymentSpec(
                replicas=1,
                # Grafana's SQLite database must not be opened by two pods at once.
                strategy=k8s.DeploymentStrategy(type="Recreate"),
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container],
                    volumes=[*(config_map_volume(suffix, self.name(suffix)) for suffix in provisioning),
                             self._data_volume(config), empty_dir("tmp"), *(hub.volumes() if hub else [])],
                    # Any provisioning change (datasource, provider, dashboard) rolls the pod.
                    annotations={"checksum/provisioning": checksum(
                        *(f"{name}\n{text}" for data in provisioning.values() for name, text in sorted(data.items())))},
                    run_as_user=GRAFANA_UID,
                    fs_group=GRAFANA_UID,
                    exceptions={"runAsUser": UID_REASON},
                ),
            ),
        )
        self.service = self.add_service({self.http_port_name: 80}, node_ports={self.http_port_name: config.node_port})
        # The datasources' URLs.
        self.connect(prometheus, prometheus.web_port_name)
        if alertmanager:
            self.connect(alertmanager, alertmanager.web_port_name)

    http_port_name = "http"

    def _admin_credentials(self, manifest: dict[str, Any] | None) -> list[k8s.EnvVar]:
        if manifest is None:
            return []
        add_sealed_secret(self, "admin-secret", manifest)

        def from_secret(variable: str, key: str, *, optional: bool) -> k8s.EnvVar:
            ref = k8s.SecretKeySelector(name=manifest["metadata"]["name"], key=key, optional=optional or None)
            return k8s.EnvVar(name=variable, value_from=k8s.EnvVarSource(secret_key_ref=ref))

        return [from_secret("GF_SECURITY_ADMIN_USER", "admin-user", optional=True),
                from_secret("GF_SECURITY_ADMIN_PASSWORD", "admin-password", optional=False)]

    def _data_volume(self, config: GrafanaConfig) -> k8s.Volume:
        """/var/lib/grafana: a PersistentVolumeClaim when persistence is on, else an emptyDir."""
        persistence = config.persistence
        if not persistence.enabled:
            return empty_dir("data", "1Gi")
        claim = k8s.KubePersistentVolumeClaim(
            self, "data",
            metadata=self.meta(self.name("data")),
            spec=k8s.PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                storage_class_name=persistence.storage_class,
                resources=k8s.ResourceRequirements(requests={"storage": k8s.Quantity.from_string(persistence.size)}),
            ),
        )
        return k8s.Volume(name="data", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(
            claim_name=claim.name))
