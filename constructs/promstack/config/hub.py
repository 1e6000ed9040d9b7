"""The fleet's central store, in clusters/fleet.yaml: ``hub:``, the one query endpoint of a fleet
whose clusters remote-write into it (Grafana Mimir, Thanos Query, VictoriaMetrics vmselect ...).

When fleet.yaml names a hub, every cluster's Grafana gets a ``fleet`` datasource for it, and a
cluster whose Prometheus runs in agent mode (no queryable TSDB of its own) points Grafana's default
datasource and prometheus-adapter at it, scoped to its own ``cluster`` label. Credentials are keys
of each cluster's sealed ``fleet-hub`` Secret (clusters/<name>/fleet-hub.sealedsecret.yaml, made with
``promstack seal``): sealed per cluster, because each cluster's controller has its own key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from promstack.config.model import SecretKey, Text
from promstack.config.remote_write import (
    HeaderName,
    RemoteWriteBasicAuth,
    Url,
    _NoInlineSecrets,
    check_headers,
)

#: The sealed Secret holding the hub's credentials in every cluster folder.
HUB_SECRET = "fleet-hub"
SEAL_COMMAND = f"promstack seal --cluster <cluster> --name {HUB_SECRET} --from-file <key>=<file>"


class HubBasicAuth(RemoteWriteBasicAuth):
    """Basic auth towards the hub: ``username`` in the clear, the password the sealed key ``passwordSecret``."""

    sealed_secret: ClassVar[str] = HUB_SECRET


class HubConfig(_NoInlineSecrets):
    """The fleet's query endpoint: ``queryUrl`` is the Prometheus-compatible API root (Mimir
    ``https://mimir.example.com/prometheus``, Thanos Query ``http://thanos-query:9090``, VictoriaMetrics
    ``http://vmselect:8481/select/0/prometheus``); ``headers`` e.g. ``X-Scope-OrgID`` (never a
    credential); at most one of ``bearerTokenSecret`` or ``basicAuth`` (keys of each cluster's
    sealed ``fleet-hub`` Secret). prometheus-adapter authenticates with a bearer token only."""

    query_url: Url
    headers: dict[HeaderName, Text] = Field(default_factory=dict, max_length=20)
    bearer_token_secret: SecretKey | None = None
    basic_auth: HubBasicAuth | None = None

    sealed_secret: ClassVar[str] = HUB_SECRET

    @model_validator(mode="after")
    def _consistent(self) -> HubConfig:
        if self.bearer_token_secret and self.basic_auth:
            raise ValueError("basicAuth and bearerTokenSecret are both set; give one way to authenticate")
        check_headers(self.headers, seal=SEAL_COMMAND)
        if (self.bearer_token_secret or self.basic_auth) and self.query_url.startswith("http://"):
            raise ValueError("credentials over http:// travel in clear text; use https://")
        return self

    def secret_keys(self) -> list[str]:
        return [k for k in (self.bearer_token_secret, self.basic_auth.password_secret if self.basic_auth else None)
                if k]


def hub_secret_keys(hub: Any) -> list[str]:
    """The sealed keys ``hub`` (a HubConfig or None) names."""
    return hub.secret_keys() if isinstance(hub, HubConfig) else []
