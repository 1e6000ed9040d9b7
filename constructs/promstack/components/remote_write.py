"""prometheus.yml's ``remote_write`` and ``external_labels``, from the typed settings.

Credentials are files of the mounted sealed Secret (``SECRETS_DIR``), CA certificates of the
cluster folder files of a ConfigMap (``CA_DIR``): nothing secret is ever rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promstack.config.remote_write import RemoteWriteConfig

#: Where the sealed remote-write credentials (prometheus-remote-write) are mounted.
SECRETS_DIR = "/etc/prometheus/remote-write"
#: Where the CA files of the cluster folder (ConfigMap <prometheus>-remote-write-ca) are mounted.
CA_DIR = "/etc/prometheus/remote-write-ca"
#: The environment variable holding the pod's name, expanded in external label values.
POD_NAME_ENV = "POD_NAME"


def escape_label_value(value: str) -> str:
    """``value`` as an external label value Prometheus v3 keeps literally: it expands ``$name`` and
    ``${name}`` from the environment in every external label value, and ``$$`` is a ``$``."""
    return value.replace("$", "$$")


def external_labels(labels: Mapping[str, str], *, replica_label: str | None) -> dict[str, str]:
    """``labels`` escaped, plus ``replica_label: ${POD_NAME}`` (expanded by Prometheus at start)."""
    out = {name: escape_label_value(value) for name, value in labels.items()}
    if replica_label:
        out[replica_label] = f"${{{POD_NAME_ENV}}}"
    return out


def _tls(endpoint: RemoteWriteConfig) -> dict[str, Any] | None:
    tls = endpoint.tls
    if tls is None:
        return None
    out: dict[str, Any] = {}
    if tls.ca_file:
        out["ca_file"] = f"{CA_DIR}/{tls.ca_file}"
    if tls.ca_secret:
        out["ca_file"] = f"{SECRETS_DIR}/{tls.ca_secret}"
    if tls.cert_secret and tls.key_secret:
        out["cert_file"] = f"{SECRETS_DIR}/{tls.cert_secret}"
        out["key_file"] = f"{SECRETS_DIR}/{tls.key_secret}"
    if tls.server_name:
        out["server_name"] = tls.server_name
    if tls.insecure_skip_verify:
        out["insecure_skip_verify"] = True
    return out or None


def remote_write(endpoint: RemoteWriteConfig) -> dict[str, Any]:
    """One ``remote_write`` entry as prometheus.yml spells it."""
    out: dict[str, Any] = {"name": endpoint.name, "url": endpoint.url}
    if endpoint.remote_timeout:
        out["remote_timeout"] = endpoint.remote_timeout
    if endpoint.headers:
        out["headers"] = dict(sorted(endpoint.headers.items()))
    if endpoint.basic_auth:
        out["basic_auth"] = {"username": endpoint.basic_auth.username,
                             "password_file": f"{SECRETS_DIR}/{endpoint.basic_auth.password_secret}"}
    if endpoint.bearer_token_secret:
        out["authorization"] = {"credentials_file": f"{SECRETS_DIR}/{endpoint.bearer_token_secret}"}
    if endpoint.oauth2:
        oauth2 = endpoint.oauth2
        out["oauth2"] = {"client_id": oauth2.client_id,
                         "client_secret_file": f"{SECRETS_DIR}/{oauth2.client_secret_secret}",
                         "token_url": oauth2.token_url}
        if oauth2.scopes:
            out["oauth2"]["scopes"] = list(oauth2.scopes)
        if oauth2.endpoint_params:
            out["oauth2"]["endpoint_params"] = dict(sorted(oauth2.endpoint_params.items()))
    if endpoint.sigv4:
        out["sigv4"] = {"region": endpoint.sigv4.region}
        if endpoint.sigv4.role_arn:
            out["sigv4"]["role_arn"] = endpoint.sigv4.role_arn
    tls = _tls(endpoint)
    if tls:
        out["tls_config"] = tls
    if endpoint.queue_config and (queue := endpoint.queue_config.to_prometheus()):
        out["queue_config"] = queue
    if endpoint.write_relabel_configs:
        out["write_relabel_configs"] = [r.to_prometheus() for r in endpoint.write_relabel_configs]
    return out
