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
    quantity,
)
from promstack.components.exposure import expose, external_url, node_ports
from promstack.components.hub import FleetHub
from promstack.components.objects import KubeObject
from promstack.components.prometheus import Prometheus
from promstack.components.web_auth import WebAuth
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
#: Where the admin Secret's files are mounted, its keys, and the user when the Secret names none.
ADMIN_DIR = "/etc/grafana/admin"
ADMIN_USER_KEY = "admin-user"
ADMIN_PASSWORD_KEY = "admin-password"
DEFAULT_ADMIN_USER = "admin"
#: Where the clients' passwords of a Prometheus or Alertmanager behind basic auth are mounted.
PROMETHEUS_AUTH_DIR = "/etc/grafana/prometheus-auth"
ALERTMANAGER_AUTH_DIR = "/etc/grafana/alertmanager-auth"


#: The Alertmanager datasource's uid (stable, so links and alert views keep working).
ALERTMANAGER_DATASOURCE_UID = "promstack-alertmanager"


#: The uid of the fleet's central store as a datasource (when clusters/fleet.yaml names a hub).
FLEET_DATASOURCE_UID = "fleet"


def _basic_auth(auth: WebAuth | None, mount_dir: str) -> dict[str, Any]:
    """Datasource fields for a server behind basic auth: the password is read from the mounted
    file when Grafana provisions (``$__file{...}``), never written into the ConfigMap."""
    if auth is None:
        return {}
    return {"basicAuth": True, "basicAuthUser": auth.user,
            "secureJsonData": {"basicAuthPassword": f"$__file{{{mount_dir}/{names.CLIENT_PASSWORD_KEY}}}"}}


def datasources(prometheus_url: str, alertmanager_url: str | None = None, *, hub: FleetHub | None = None,
                hub_only: bool = False, prometheus_auth: WebAuth | None = None,
                alertmanager_auth: WebAuth | None = None) -> str:
    """Prometheus (the default), Alertmanager and, with a ``hub``, the fleet's store. ``hub_only``
    (Prometheus in agent mode has no query API) makes the default datasource the hub itself.
    ``*_auth``: the servers' basic auth, the password read from a mounted file."""
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
            **_basic_auth(prometheus_auth, PROMETHEUS_AUTH_DIR),
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
            **_basic_auth(alertmanager_auth, ALERTMANAGER_AUTH_DIR),
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
    """Grafana behind a Service (80 -> 3000) exposed as ``settings.exposure`` says (``exposure_tls``:
    the sealed certificate for an Ingress with ``tls.sealed``), datasources from ``prometheus.service_url`` and,
    when given, ``alertmanager.url``.

    Anonymous access, sign-up, update checks and usage reporting are off. The admin credentials are
    files of a Secret mounted at /etc/grafana/admin (``GF_SECURITY_ADMIN_PASSWORD__FILE``, never an
    environment variable), so there is no default login: ``admin_secret`` is either the sealed admin
    Secret (a SealedSecret manifest with key admin-password and, optionally, admin-user, else the
    user is ``admin``; promstack reads it from clusters/<name>/grafana-admin.sealedsecret.yaml),
    rendered beside Grafana, or the name of a Secret created in the cluster by hand with keys
    admin-user and admin-password (default ``grafana-admin``). Without that Secret the pod does not
    start, rather than start with admin/admin.
    ``extra_dashboards`` (file name ``<name>.json`` -> dashboard JSON, e.g. a team's own, which
    promstack reads from clusters/<name>/dashboards/) go into a ConfigMap of their own, provisioned
    read-only into the folder ``team``. ``deployment`` and ``service`` are the objects (KubeObject).
    """

    def __init__(self, scope: Construct, id_: str = names.GRAFANA, *, prometheus: Prometheus,
                 settings: GrafanaConfig = GrafanaConfig(), context: StackContext = StackContext(),
                 admin_secret: dict[str, Any] | str = names.GRAFANA_ADMIN_SECRET,
                 alertmanager: Alertmanager | None = None,
                 image: Image = versions.GRAFANA, extra_dashboards: Mapping[str, str] | None = None,
                 exposure_tls: dict[str, Any] | None = None, hub: FleetHub | None = None,
                 hub_only: bool = False) -> None:
        super().__init__(scope, id_, context=context, component="dashboards", image=image)
        config = settings
        alertmanager_auth = alertmanager.web_auth if alertmanager else None
        self.datasources_text = datasources(prometheus.service_url, alertmanager.url if alertmanager else None,
                                            hub=hub, hub_only=hub_only, prometheus_auth=prometheus.web_auth,
                                            alertmanager_auth=alertmanager_auth)
        client_auth = [(auth, volume, path) for auth, volume, path in (
            (prometheus.web_auth, "prometheus-auth", PROMETHEUS_AUTH_DIR),
            (alertmanager_auth, "alertmanager-auth", ALERTMANAGER_AUTH_DIR)) if auth is not None]
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
            KubeObject.of(self, suffix, k8s.KubeConfigMapProps(metadata=self.meta(self.name(suffix)), data=data))

        admin_volume, admin_environment = self._admin_credentials(admin_secret)
        environment = {
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            # Only the provisioned admin may create organisations; nobody signs up.
            "GF_USERS_ALLOW_ORG_CREATE": "false",
            # No user:password on the HTTP API: passwords are tried only at the login form, which has
            # brute-force protection; scripts use service-account tokens.
            "GF_AUTH_BASIC_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_PATHS_PROVISIONING": PROVISIONING_DIR,
            "GF_SERVER_HTTP_PORT": str(PORT),
        }
        url = external_url(config.exposure)
        if url:
            # Behind TLS: links and redirects use the public URL; the session cookie never travels in clear.
            environment |= {"GF_SERVER_ROOT_URL": url, "GF_SECURITY_COOKIE_SECURE": "true"}
        container = hardened_container(
            name="grafana",
            image=image,
            resources=config.resources,
            run_as_user=GRAFANA_UID,
            env=[k8s.EnvVar(name=k, value=v) for k, v in {**environment, **admin_environment}.items()],
            ports=[k8s.ContainerPort(name="http", container_port=PORT, protocol="TCP")],
            volume_mounts=[
                *(mount(volume, path) for volume, path in mounts),
                mount("data", "/var/lib/grafana", read_only=False),
                mount("tmp", "/tmp", read_only=False),
                mount(admin_volume.name, ADMIN_DIR),
                *(mount(volume, path) for _, volume, path in client_auth),
                *(hub.mounts() if hub else []),
            ],
            readiness=http_probe("/api/health", "http", initial_delay=10),
            liveness=http_probe("/api/health", "http", initial_delay=60),
        )
        self.deployment = KubeObject.of(self, "deployment", k8s.KubeDeploymentProps(
            metadata=self.meta(),
            spec=k8s.DeploymentSpec(
                replicas=1,
                # Grafana's SQLite database must not be opened by two pods at once.
                strategy=k8s.DeploymentStrategy(type="Recreate"),
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container],
                    volumes=[*(config_map_volume(suffix, self.name(suffix)) for suffix in provisioning),
                             self._data_volume(config), empty_dir("tmp"), admin_volume,
                             *(hub.volumes() if hub else []),
                             *(auth.volume(volume, names.CLIENT_PASSWORD_KEY) for auth, volume, _ in client_auth)],
                    # Any provisioning change (datasource, provider, dashboard) rolls the pod.
                    annotations={"checksum/provisioning": checksum(
                        *(f"{name}\n{text}" for data in provisioning.values() for name, text in sorted(data.items()))),
                        **({names.SECRETS_CREATED_IN_CLUSTER: admin_secret} if isinstance(admin_secret, str) else {}),
                        # Datasource passwords are read when Grafana provisions, at start: a new one rolls it.
                        **{k: v for auth, _, _ in client_auth for k, v in auth.annotations.items()}},
                    run_as_user=GRAFANA_UID,
                    fs_group=GRAFANA_UID,
                    exceptions={"runAsUser": UID_REASON},
                ),
            ),
        ))
        self.service = self.add_service({self.http_port_name: 80},
                                        node_ports=node_ports(config.exposure, "grafana", self.http_port_name))
        self.route = expose(self, service=self.service, port_name=self.http_port_name, port=80,
                            exposure=config.exposure, tls_secret=exposure_tls)
        # The datasources' URLs.
        self.connect(prometheus, prometheus.web_port_name)
        if alertmanager:
            self.connect(alertmanager, alertmanager.web_port_name)

    http_port_name = "http"

    def _admin_credentials(self, secret: dict[str, Any] | str) -> tuple[k8s.Volume, dict[str, str]]:
        """The admin Secret's volume and the variables pointing Grafana at its files. A sealed
        manifest is rendered beside Grafana; its optional admin-user key is known here, so the
        user is read from a file only when the file will exist."""
        if isinstance(secret, str):
            name, keys = secret, {ADMIN_USER_KEY, ADMIN_PASSWORD_KEY}
        else:
            add_sealed_secret(self, "admin-secret", secret)
            name, keys = secret["metadata"]["name"], set(secret["spec"]["encryptedData"])
        environment = {"GF_SECURITY_ADMIN_PASSWORD__FILE": f"{ADMIN_DIR}/{ADMIN_PASSWORD_KEY}"}
        if ADMIN_USER_KEY in keys:
            environment["GF_SECURITY_ADMIN_USER__FILE"] = f"{ADMIN_DIR}/{ADMIN_USER_KEY}"
        else:
            environment["GF_SECURITY_ADMIN_USER"] = DEFAULT_ADMIN_USER
        volume = k8s.Volume(name="admin", secret=k8s.SecretVolumeSource(secret_name=name, default_mode=0o440))
        return volume, environment

    def _data_volume(self, config: GrafanaConfig) -> k8s.Volume:
        """/var/lib/grafana: a PersistentVolumeClaim when persistence is on, else an emptyDir."""
        persistence = config.persistence
        if not persistence.enabled:
            return empty_dir("data", "1Gi")
        claim = KubeObject.of(self, "data", k8s.KubePersistentVolumeClaimProps(
            metadata=self.meta(self.name("data")),
            spec=k8s.PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                storage_class_name=persistence.storage_class,
                resources=k8s.ResourceRequirements(requests={"storage": quantity(persistence.size)}),
            ),
        ))
        return k8s.Volume(name="data", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(
            claim_name=claim.name))
