"""The fleet's central query endpoint as the cluster's components see it: URL, headers, credentials."""

from __future__ import annotations

from typing import Any

from cdk8s_plus_27 import k8s
from constructs import Construct

from promstack.components.base import Component, StackContext, add_sealed_secret, mount
from promstack.config.hub import HubConfig

#: Where a component that queries the hub mounts the sealed hub credentials.
SECRETS_DIR = "/etc/fleet-hub"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FleetHub(Component):
    """The hub ``settings`` names (clusters/fleet.yaml ``hub:``), for Grafana and prometheus-adapter.

    ``secret`` is the cluster's sealed ``fleet-hub`` SealedSecret (rendered here, once, for every
    component that mounts it; None when the hub needs no credentials). ``cluster_label`` is the
    (name, value) of the external label that tells this cluster's series apart in the hub.
    """

    def __init__(self, scope: Construct, id_: str = "fleet-hub", *, settings: HubConfig,
                 cluster_label: tuple[str, str], context: StackContext = StackContext(),
                 secret: dict[str, Any] | None = None) -> None:
        super().__init__(scope, id_, context=context, component="fleet-hub", image=None)
        missing = sorted(set(settings.secret_keys()) - set((secret or {}).get("spec", {}).get("encryptedData", {})))
        if missing:
            raise ValueError(f"FleetHub {id_!r}: secret lacks the keys {', '.join(missing)} that the hub names")
        self.settings = settings
        self.url = settings.query_url
        self.headers = dict(sorted(settings.headers.items()))
        self.cluster_label = cluster_label
        self.secret_name = secret["metadata"]["name"] if secret is not None and settings.secret_keys() else None
        if self.secret_name and secret is not None:
            add_sealed_secret(self, "secret", secret)

    @property
    def cluster_matcher(self) -> str:
        """A PromQL label matcher selecting this cluster's series in the hub."""
        name, value = self.cluster_label
        return f"{name}={_quote(value)}"

    def file(self, key: str) -> str:
        return f"{SECRETS_DIR}/{key}"

    def volumes(self) -> list[k8s.Volume]:
        if self.secret_name is None:
            return []
        return [k8s.Volume(name="fleet-hub", secret=k8s.SecretVolumeSource(secret_name=self.secret_name,
                                                                           default_mode=0o440))]

    def mounts(self) -> list[k8s.VolumeMount]:
        return [mount("fleet-hub", SECRETS_DIR)] if self.secret_name else []

    def grafana_datasource(self, *, name: str, uid: str, default: bool) -> dict[str, Any]:
        """A Grafana datasource for the hub; secrets are ``$__file{}`` references Grafana reads at
        provisioning, header values (tenancy) go into secureJsonData as Grafana requires."""
        json_data: dict[str, Any] = {"httpMethod": "POST", "timeInterval": "30s"}
        secure: dict[str, str] = {}
        headers = dict(self.headers)
        if self.settings.bearer_token_secret:
            headers["Authorization"] = f"Bearer $__file{{{self.file(self.settings.bearer_token_secret)}}}"
        for i, (header, value) in enumerate(sorted(headers.items()), start=1):
            json_data[f"httpHeaderName{i}"] = header
            secure[f"httpHeaderValue{i}"] = value
        source: dict[str, Any] = {"name": name, "uid": uid, "type": "prometheus", "access": "proxy", "url": self.url,
                                  "isDefault": default, "editable": False}
        if self.settings.basic_auth:
            source["basicAuth"] = True
            source["basicAuthUser"] = self.settings.basic_auth.username
            secure["basicAuthPassword"] = f"$__file{{{self.file(self.settings.basic_auth.password_secret)}}}"
        source["jsonData"] = json_data
        if secure:
            source["secureJsonData"] = secure
        return source

    def adapter_args(self) -> list[str]:
        """prometheus-adapter's flags for the hub: headers and a bearer token file (it has no basic auth)."""
        if self.settings.basic_auth:
            raise ValueError("prometheus-adapter authenticates with a bearer token only; give the hub "
                             "bearerTokenSecret instead of basicAuth")
        args = [f"--prometheus-header={header}={value}" for header, value in self.headers.items()]
        if self.settings.bearer_token_secret:
            args.append(f"--prometheus-token-file={self.file(self.settings.bearer_token_secret)}")
        return args

    def scope_rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        """An adapter rule (as the adapter's config.yaml spells it) limited to this cluster's series:
        the hub holds every cluster's, and an HPA must scale on its own cluster's only."""
        series = rule["seriesQuery"]
        brace = series.find("{")
        series = (f"{series[:brace + 1]}{self.cluster_matcher},{series[brace + 1:]}" if brace >= 0
                  else f"{series}{{{self.cluster_matcher}}}")
        query = rule["metricsQuery"].replace("<<.LabelMatchers>>", f"<<.LabelMatchers>>,{self.cluster_matcher}")
        return {**rule, "seriesQuery": series, "metricsQuery": query}
