"""Alertmanager: routes Prometheus' alerts to people; replicas gossip silences and notifications."""

from __future__ import annotations

import json
from typing import Any

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import (
    Component,
    StackContext,
    add_sealed_secret,
    config_map_volume,
    hardened_container,
    http_probe,
    mount,
    port,
    quantity,
)
from promstack.components.exposure import expose, node_ports
from promstack.components.objects import KubeObject
from promstack.components.web_auth import WebAuth, require_web_auth, tcp_probe
from promstack.config import names, versions, yamlio
from promstack.config.alerting import NULL_RECEIVER, AlertmanagerConfig, Receiver, Route, RoutingConfig
from promstack.config.cluster import resources
from promstack.config.versions import Image
from promstack.gitops.delivery import ordering_annotations

WEB_PORT = 9093
RELOADER_PORT = 8080
RELOADER_RESOURCES = resources("10m", "16Mi", "100m", "64Mi")
MESH_PORT = 9094
CONFIG_DIR = "/etc/alertmanager"
SECRETS_DIR = "/etc/alertmanager/secrets"
DATA_DIR = "/alertmanager"
#: Where the web-auth Secret (web config, the clients' password) is mounted.
WEB_AUTH_DIR = "/etc/alertmanager/web-auth"
#: The config-reloader's variable holding the clients' password, expanded by the kubelet into its
#: --reload-url (the reloader sends no other credentials; the manifest keeps the $(...) reference).
RELOAD_PASSWORD_ENV = "WEB_AUTH_PASSWORD"
#: The always-firing alert that proves the pipeline works end to end (content.rules renders it).
WATCHDOG = "Watchdog"
#: The alert whose firing makes every other alert on the same node noise.
NODE_DOWN = "KubeNodeNotReady"


def matcher(label: str, value: str, op: str = "=") -> str:
    """One Alertmanager matcher; the value is quoted and escaped, so no value can inject another."""
    return f"{label}{op}{json.dumps(value)}"


def _integrations(receiver: Receiver) -> dict[str, Any]:
    def secret(key: str) -> str:
        return f"{SECRETS_DIR}/{key}"

    out: dict[str, Any] = {"name": receiver.name}
    if receiver.slack:
        out["slack_configs"] = [
            {"api_url_file": secret(s.api_url_secret), **({"channel": s.channel} if s.channel else {}),
             "send_resolved": s.send_resolved} for s in receiver.slack]
    if receiver.pagerduty:
        out["pagerduty_configs"] = [
            {"routing_key_file": secret(p.routing_key_secret), "send_resolved": p.send_resolved}
            for p in receiver.pagerduty]
    if receiver.email:
        out["email_configs"] = [
            {"to": e.to, "from": e.from_, "smarthost": e.smarthost,
             **({"auth_username": e.auth_username, "auth_password_file": secret(e.auth_password_secret)}
                if e.auth_username and e.auth_password_secret else {}),
             "require_tls": e.require_tls, "send_resolved": e.send_resolved} for e in receiver.email]
    if receiver.webhook:
        out["webhook_configs"] = [
            {"url_file": secret(w.url_secret),
             **({"http_config": {"authorization": {"credentials_file": secret(w.credentials_secret)}}}
                if w.credentials_secret else {}),
             "send_resolved": w.send_resolved} for w in receiver.webhook]
    return out


def _route(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver,
                           "matchers": [matcher(k, v) for k, v in sorted(route.matchers.items())]}
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    if route.continue_:
        out["continue"] = True
    return out


def routes(routing: RoutingConfig) -> list[dict[str, Any]]:
    """The Watchdog to the heartbeat receiver (every minute), the user's routes, then by severity."""
    tree: list[dict[str, Any]] = [{
        "receiver": routing.heartbeat or NULL_RECEIVER,
        "matchers": [matcher("alertname", WATCHDOG)],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "1m",
    }]
    tree += [_route(route) for route in routing.routes]
    for severity, receiver in (("critical", routing.critical), ("warning", routing.warning)):
        if receiver:
            tree.append({"receiver": receiver, "matchers": [matcher("severity", severity)]})
    return tree


def inhibit_rules() -> list[dict[str, Any]]:
    """A critical alert silences the warning of the same alert and namespace; a node that is not
    ready silences every other alert about that node."""
    return [
        {"source_matchers": [matcher("severity", "critical")], "target_matchers": [matcher("severity", "warning")],
         "equal": ["alertname", "namespace"]},
        {"source_matchers": [matcher("alertname", NODE_DOWN)],
         "target_matchers": [matcher("alertname", NODE_DOWN, "!=")], "equal": ["node"]},
    ]


def render_config(settings: AlertmanagerConfig) -> str:
    """alertmanager.yml: secrets only as ``*_file`` paths under the sealed Secret's mount."""
    routing = settings.routing
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": routing.default,
            "group_by": list(routing.group_by),
            "group_wait": routing.group_wait,
            "group_interval": routing.group_interval,
            "repeat_interval": routing.repeat_interval,
            "routes": routes(routing),
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [{"name": NULL_RECEIVER}, *(_integrations(r) for r in settings.receivers)],
    }
    return yamlio.dump(config)


class Alertmanager(Component):
    """Alertmanager as a StatefulSet of ``settings.replicas`` peers on a claim each.

    ``service`` (port ``web`` 9093, exposed as ``settings.exposure`` says; ``exposure_tls``: the
    sealed certificate for ``tls.sealed``) is the API and UI; ``headless_service`` publishes
    every replica (also before it is ready) for the gossip mesh on 9094 and for Prometheus, which
    must send every alert to every replica. ``receivers_secret`` is the sealed Secret of receiver
    secrets (a SealedSecret manifest named ``alertmanager-receivers``), mounted read-only at
    /etc/alertmanager/secrets; it must hold every key the receivers name.
    A ``config-reloader`` sidecar reloads it when the configuration or the receiver secrets change,
    so routing changes never restart a pod. ``stateful_set`` and ``config_map`` are the objects (KubeObject).
    """

    web_port_name = "web"

    def __init__(self, scope: Construct, id_: str = names.ALERTMANAGER, *,
                 settings: AlertmanagerConfig = AlertmanagerConfig(), context: StackContext = StackContext(),
                 receivers_secret: dict[str, Any] | None = None, image: Image = versions.ALERTMANAGER,
                 reloader_image: Image = versions.CONFIG_RELOADER, exposure_tls: dict[str, Any] | None = None,
                 web_auth: dict[str, Any] | None = None) -> None:
        super().__init__(scope, id_, context=context, component="alert-router", image=image)
        missing = sorted(set(settings.secret_keys()) - set(
            (receivers_secret or {}).get("spec", {}).get("encryptedData", {})))
        if missing:
            raise ValueError(f"Alertmanager {id_!r}: receivers_secret lacks the keys {', '.join(missing)} "
                             "that the receivers name")
        self.replicas = settings.replicas
        self.config_text = render_config(settings)
        self.service_account(automount=False)
        self.config_map = KubeObject.of(self, "config", k8s.KubeConfigMapProps(metadata=self.meta(self.name("config")),
                                            data={"alertmanager.yml": self.config_text}))
        volumes = [config_map_volume("config", self.name("config"))]
        mounts = [mount("config", CONFIG_DIR), mount("data", DATA_DIR, read_only=False)]
        if receivers_secret is not None:
            add_sealed_secret(self, "receivers", receivers_secret)
            secret_name = receivers_secret["metadata"]["name"]
            volumes.append(k8s.Volume(name="receivers", secret=k8s.SecretVolumeSource(
                secret_name=secret_name, default_mode=0o440)))
            mounts.append(mount("receivers", SECRETS_DIR))

        #: The basic auth Alertmanager requires (``web_auth``: the sealed alertmanager-web-auth Secret), or None.
        self.web_auth: WebAuth | None = None
        watched = list(mounts[:1] + mounts[2:])  # what the config-reloader watches: config and receivers
        if web_auth is not None:
            # Read on every request, so a new password needs no reload.
            self.web_auth = require_web_auth(self, web_auth, keys=(names.WEB_CONFIG_KEY, names.CLIENT_PASSWORD_KEY))
            volumes.append(self.web_auth.volume("web-auth"))
            mounts.append(mount("web-auth", WEB_AUTH_DIR))

        headless = self.name("headless")
        mesh = [f"--cluster.listen-address=:{MESH_PORT}",
                f"--cluster.advertise-address=$(POD_IP):{MESH_PORT}",
                *(f"--cluster.peer={self.app_name}-{i}.{headless}.{self.stack_namespace}.svc:{MESH_PORT}"
                  for i in range(settings.replicas))]
        container = hardened_container(
            name="alertmanager",
            image=image,
            resources=settings.resources,
            args=[
                f"--config.file={CONFIG_DIR}/alertmanager.yml",
                f"--storage.path={DATA_DIR}",
                f"--data.retention={settings.retention}",
                f"--web.listen-address=:{WEB_PORT}",
                *([f"--web.config.file={WEB_AUTH_DIR}/{names.WEB_CONFIG_KEY}"] if self.web_auth else []),
                # One replica has no peers: an empty listen address turns the mesh off.
                *(mesh if settings.replicas > 1 else ["--cluster.listen-address="]),
            ],
            env=[k8s.EnvVar(name="POD_IP", value_from=k8s.EnvVarSource(
                field_ref=k8s.ObjectFieldSelector(field_path="status.podIP")))],
            ports=[k8s.ContainerPort(name=self.web_port_name, container_port=WEB_PORT, protocol="TCP"),
                   *([k8s.ContainerPort(name="mesh-tcp", container_port=MESH_PORT, protocol="TCP"),
                      k8s.ContainerPort(name="mesh-udp", container_port=MESH_PORT, protocol="UDP")]
                     if settings.replicas > 1 else [])],
            volume_mounts=mounts,
            readiness=(tcp_probe(self.web_port_name, initial_delay=5) if self.web_auth
                       else http_probe("/-/ready", self.web_port_name, initial_delay=5)),
            liveness=(tcp_probe(self.web_port_name, initial_delay=15) if self.web_auth
                      else http_probe("/-/healthy", self.web_port_name, initial_delay=15)),
        )
        self.stateful_set = KubeObject.of(self, "stateful-set", k8s.KubeStatefulSetProps(
            metadata=self.meta(),
            spec=k8s.StatefulSetSpec(
                service_name=headless,
                replicas=settings.replicas,
                # Peers find each other by DNS: start them all at once.
                pod_management_policy="Parallel",
                selector=self.label_selector(),
                template=self.pod_template(
                    containers=[container, self._reloader(watched, image=reloader_image)],
                    # The reloader reads the password at start: a new one rolls the pods.
                    annotations=self.web_auth.annotations if self.web_auth else None,
                    volumes=volumes,
                    fs_group=65534,
                    affinity=self.spread_over_nodes() if settings.replicas > 1 else None,
                ),
                volume_claim_templates=[
                    k8s.KubePersistentVolumeClaimProps(
                        # Immutable field: no version label. Claims hold silences: never pruned.
                        metadata=k8s.ObjectMeta(name="data", labels=self.immutable_labels,
                                                annotations=ordering_annotations("PersistentVolumeClaim")),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=settings.storage.storage_class,
                            resources=k8s.ResourceRequirements(
                                requests={"storage": quantity(settings.storage.size)}),
                        ),
                    )
                ],
                persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                    when_deleted="Retain", when_scaled="Retain"),
            ),
        ))
        if settings.replicas > 1:
            KubeObject.of(self, "pod-disruption-budget", k8s.KubePodDisruptionBudgetProps(metadata=self.meta(),
                spec=k8s.PodDisruptionBudgetSpec(max_unavailable=port(1), selector=self.label_selector())))
        mesh_ports = {"mesh-tcp": MESH_PORT} if settings.replicas > 1 else {}
        self.headless_service = self._headless_service(headless, mesh_ports)
        self.service = self.add_service({self.web_port_name: WEB_PORT},
                                        node_ports=node_ports(settings.exposure, "alertmanager", self.web_port_name))
        self.route = expose(self, service=self.service, port_name=self.web_port_name, port=WEB_PORT,
                            exposure=settings.exposure, tls_secret=exposure_tls)
        self.url = f"http://{self.app_name}.{self.stack_namespace}.svc:{WEB_PORT}"
        if settings.replicas > 1:
            # The gossip mesh between replicas (memberlist: TCP and UDP on the same port).
            self.connect(self, "mesh-tcp")
            self.connect(self, "mesh-udp")

    def _reloader(self, mounts: list[k8s.VolumeMount], *, image: Image) -> k8s.Container:
        """Reloads Alertmanager when the kubelet updates its configuration or receiver secrets, so a
        routing change never restarts a pod (the kubelet refreshes ConfigMap volumes within about
        a minute; a rejected configuration keeps the previous one and AlertmanagerFailedReload fires)."""
        # Behind basic auth the reload is the clients' user's: the reloader has no password-file flag,
        # so the kubelet expands the Secret-backed variable into the URL's userinfo.
        auth = f"{self.web_auth.user}:$({RELOAD_PASSWORD_ENV})@" if self.web_auth else ""
        return hardened_container(
            name="config-reloader",
            image=image,
            resources=RELOADER_RESOURCES,
            env=[self.web_auth.password_env(RELOAD_PASSWORD_ENV)] if self.web_auth else [],
            args=[f"--listen-address=:{RELOADER_PORT}",
                  f"--reload-url=http://{auth}127.0.0.1:{WEB_PORT}/-/reload",
                  *(f"--watched-dir={m.mount_path}" for m in mounts)],
            ports=[k8s.ContainerPort(name="reloader", container_port=RELOADER_PORT, protocol="TCP")],
            volume_mounts=mounts,
            readiness=http_probe("/metrics", "reloader", initial_delay=5),
            liveness=http_probe("/metrics", "reloader", initial_delay=15),
        )


    def _headless_service(self, name: str, mesh_ports: dict[str, int]) -> KubeObject:
        ports = [k8s.ServicePort(name=self.web_port_name, port=WEB_PORT, target_port=port(self.web_port_name),
                                 protocol="TCP")]
        if mesh_ports:
            ports += [k8s.ServicePort(name="mesh-tcp", port=MESH_PORT, target_port=port("mesh-tcp"), protocol="TCP"),
                      k8s.ServicePort(name="mesh-udp", port=MESH_PORT, target_port=port("mesh-udp"), protocol="UDP")]
        return KubeObject.of(self, "headless-service", k8s.KubeServiceProps(metadata=self.meta(name),
            spec=k8s.ServiceSpec(cluster_ip="None", selector=self.selector, ports=ports,
                                 # Peers must resolve each other while they start, before they are ready.
                                 publish_not_ready_addresses=True)))
