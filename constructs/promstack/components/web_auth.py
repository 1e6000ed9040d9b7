"""Basic auth in front of Prometheus or Alertmanager, and what their in-cluster clients need.

The sealed ``<ui>-web-auth`` Secret (``promstack seal-web-auth``) holds the web config with bcrypt
hashes (``--web.config.file``), the password of the in-cluster clients' user and, for Prometheus,
the adapter's kubeconfig-format auth file. The server mounts all of it; each client mounts only
the key it reads, from the same Secret (one namespace), so nothing is sealed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdk8s_plus_27 import k8s

from promstack.components.base import Component, add_sealed_secret, checksum, port
from promstack.config import names


@dataclass(frozen=True)
class WebAuth:
    """The basic-auth Secret a server requires: its name, and the user its clients log in as."""

    secret_name: str
    #: A checksum of the sealed values: on a pod template, it rolls the pods of clients that read the
    #: password only at start (Grafana's datasources, the adapter, the config-reloader's variable).
    revision: str = ""
    user: str = names.CLIENT_USER

    @property
    def annotations(self) -> dict[str, str]:
        return {f"checksum/{self.secret_name}": self.revision}

    def volume(self, name: str, *keys: str) -> k8s.Volume:
        """A volume of ``keys`` of the Secret, read-only to the pod's group."""
        return k8s.Volume(name=name, secret=k8s.SecretVolumeSource(
            secret_name=self.secret_name, default_mode=0o440,
            items=[k8s.KeyToPath(key=key, path=key) for key in keys] or None))

    def client_basic_auth(self, mount_dir: str) -> dict[str, Any]:
        """``basic_auth`` of a Prometheus client config, the password read from the mounted key."""
        return {"username": self.user, "password_file": f"{mount_dir}/{names.CLIENT_PASSWORD_KEY}"}

    def password_env(self, variable: str) -> k8s.EnvVar:
        """The clients' password as an environment variable (for a URL's userinfo; never in args as text)."""
        return k8s.EnvVar(name=variable, value_from=k8s.EnvVarSource(secret_key_ref=k8s.SecretKeySelector(
            name=self.secret_name, key=names.CLIENT_PASSWORD_KEY)))


def require_web_auth(component: Component, manifest: dict[str, Any], *, keys: tuple[str, ...]) -> WebAuth:
    """Render the sealed web-auth Secret beside ``component`` and describe it for its clients."""
    name = manifest["metadata"]["name"]
    expected = f"{component.app_name}{names.WEB_AUTH_SECRET_SUFFIX}"
    missing = sorted(set(keys) - set(manifest["spec"]["encryptedData"]))
    if name != expected or missing:
        raise ValueError(f"{type(component).__name__} {component.app_name!r}: web_auth must be the sealed Secret "
                         f"{expected!r} with keys {', '.join(keys)} (`promstack seal-web-auth`)")
    add_sealed_secret(component, "web-auth", manifest)
    encrypted = manifest["spec"]["encryptedData"]
    return WebAuth(secret_name=name, revision=checksum(*(f"{key}={encrypted[key]}" for key in sorted(encrypted))))


def tcp_probe(port_name: str, *, initial_delay: int, period: int = 10, failures: int = 3) -> k8s.Probe:
    """Behind basic auth every HTTP path answers 401 to the kubelet, which could only send a password
    written into the manifest: probes check the listener instead."""
    return k8s.Probe(tcp_socket=k8s.TcpSocketAction(port=port(port_name)), initial_delay_seconds=initial_delay,
                     period_seconds=period, timeout_seconds=5, failure_threshold=failures)
