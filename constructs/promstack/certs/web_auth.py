"""``promstack seal-web-auth``: basic auth for an exposed Prometheus or Alertmanager, sealed.

Neither has a login of its own: their ``--web.config.file`` takes ``basic_auth_users`` with bcrypt
hashes. The command hashes the person's password (read from a file, never an argument), makes a
random password for the in-cluster clients (Grafana, the adapter, Prometheus itself, the
config-reloader), and seals both into ``clusters/NAME/<ui>-web-auth.sealedsecret.yaml``: the web
config, the clients' password (mounted as a file where a client reads one) and, for Prometheus,
the adapter's kubeconfig-format auth file (``--prometheus-auth-config`` reads no password file).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from promstack.certs import PUBLIC_MODE, CertError, write_files_atomically
from promstack.certs.cli import (
    SEALED_SECRET_SUFFIX,
    _add_cluster_args,
    _add_sealing_cert_arg,
    _cluster_dir,
    _read_value_file,
    _reports_errors,
    _sealing_cert,
    _show,
)
from promstack.certs.sealing import cert_fingerprint, dump_manifest, sealed_secret_manifest
from promstack.config import names
from promstack.config.cluster import load_cluster

UIS = (names.PROMETHEUS, names.ALERTMANAGER)
#: bcrypt's cost: 2^12 rounds, ~0.2-0.3 s per login check on one core; the web config is cached
#: by neither server, so higher costs slow every request.
BCRYPT_ROUNDS = 12
#: bcrypt reads at most 72 bytes; a longer password would be cut silently, so it is refused.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_BYTES = 12


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "seal-web-auth",
        help="seal basic auth for an exposed Prometheus or Alertmanager",
        description="Hash a password with bcrypt into the web config of Prometheus or Alertmanager, add a random "
                    "password for in-cluster clients, and seal both into clusters/NAME/<ui>-web-auth"
                    f"{SEALED_SECRET_SUFFIX}.",
    )
    _add_cluster_args(parser, required=True)
    parser.add_argument("--ui", required=True, choices=UIS, help="which UI the credentials protect")
    parser.add_argument("--password-file", required=True, metavar="PATH",
                        help=f"the person's password ({MIN_PASSWORD_BYTES}-{MAX_PASSWORD_BYTES} bytes; one trailing "
                             "newline is dropped), e.g. made with `openssl rand -base64 24 > PATH`")
    parser.add_argument("--username", default="admin", help="the person's user name (default admin)")
    _add_sealing_cert_arg(parser, default_help=f"default: clusters/NAME/{names.SEALING_CERT_FILE}")
    parser.set_defaults(func=cmd_seal_web_auth)


def web_config(users: dict[str, bytes]) -> str:
    """The web config: each user with the bcrypt hash of its password."""
    hashed = {user: bcrypt.hashpw(password, bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()
              for user, password in users.items()}
    return yaml.safe_dump({"basic_auth_users": hashed}, sort_keys=True)


def adapter_kubeconfig(server: str, password: str) -> str:
    """A kubeconfig-format file for prometheus-adapter's ``--prometheus-auth-config``: the server
    (Prometheus' in-cluster URL; the adapter queries ``--prometheus-url``) and basic auth."""
    config: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "prometheus",
        "clusters": [{"name": "prometheus", "cluster": {"server": server}}],
        "users": [{"name": names.CLIENT_USER, "user": {"username": names.CLIENT_USER, "password": password}}],
        "contexts": [{"name": "prometheus", "context": {"cluster": "prometheus", "user": names.CLIENT_USER}}],
    }
    return yaml.safe_dump(config, sort_keys=False)


def _password(path: str) -> bytes:
    value = _read_value_file(path, "password")
    value = value[:-1] if value.endswith(b"\n") else value
    fix = "write one line to the file, e.g. `openssl rand -base64 24 > PATH`"
    if b"\n" in value or b"\r" in value or b"\x00" in value:
        raise CertError("--password-file", path, "holds more than one line", fix)
    if not MIN_PASSWORD_BYTES <= len(value) <= MAX_PASSWORD_BYTES:
        # Not echoed: the value is the secret.
        raise CertError("--password-file", path, f"holds {len(value)} bytes; bcrypt needs {MIN_PASSWORD_BYTES} to "
                        f"{MAX_PASSWORD_BYTES} (it ignores what follows byte {MAX_PASSWORD_BYTES})", fix)
    return value


@_reports_errors
def cmd_seal_web_auth(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    cluster_dir = _cluster_dir(Path(args.clusters_dir), args.cluster)
    namespace: str = load_cluster(cluster_dir).namespace
    username: str = args.username
    if not username or len(username) > 64 or not username.isascii() or not all(
            c.isalnum() or c in "-_." for c in username):
        raise CertError("--username", username[:64], "is not a user name (1-64 letters, digits, '-', '_', '.')",
                        "e.g. --username admin")
    if username == names.CLIENT_USER:
        raise CertError("--username", username, "is the in-cluster clients' user", "pick another, e.g. admin")
    password = _password(args.password_file)
    # Hex: safe inside a URL's userinfo, where the config-reloader sends it.
    client_password = secrets.token_hex(24)
    data = {names.WEB_CONFIG_KEY: web_config({username: password,
                                               names.CLIENT_USER: client_password.encode()}).encode(),
            names.CLIENT_PASSWORD_KEY: client_password.encode()}
    if args.ui == names.PROMETHEUS:
        server = f"http://{names.PROMETHEUS}.{namespace}.svc:{names.PROMETHEUS_PORT}"
        data[names.ADAPTER_AUTH_KEY] = adapter_kubeconfig(server, client_password).encode()
    secret = f"{args.ui}{names.WEB_AUTH_SECRET_SUFFIX}"
    sealing_cert = _sealing_cert(args.sealing_cert, cluster_dir, now)
    manifest = sealed_secret_manifest(sealing_cert, name=secret, namespace=namespace, data=data)
    out = cluster_dir / f"{secret}{SEALED_SECRET_SUFFIX}"
    existed = out.exists()
    write_files_atomically({out: (dump_manifest(manifest, generated_by="promstack seal-web-auth"), PUBLIC_MODE)})
    print(f"{'replaced' if existed else 'wrote'} {_show(out)} (SealedSecret {namespace}/{secret}, users {username} "
          f"and {names.CLIENT_USER}, keys {', '.join(sorted(data))}; sealing cert sha256 "
          f"{cert_fingerprint(sealing_cert)})", file=sys.stdout)
    return 0
