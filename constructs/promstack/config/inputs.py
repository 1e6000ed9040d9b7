"""What synth reads from a cluster folder besides cluster.yaml: sealed inputs, public certificates,
and the team's own rule files and dashboards (``rules/``, ``dashboards/``, also under ``clusters/_shared/``).

Read once, at the edge, and handed to the components as values; no construct touches the filesystem.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from promstack.certs import CertError
from promstack.certs.sealing import read_sealed_secret, sealed_value_length
from promstack.components.base import MAX_CONFIG_MAP_BYTES, config_map_bytes
from promstack.config import alerting, names, remote_write, scraping
from promstack.config.cluster import SHARED_DIR, ClusterConfig
from promstack.config.hub import HUB_SECRET, HubConfig
from promstack.config.model import ConfigError, show_path
from promstack.config.yamlio import read_text
from promstack.content import team
from promstack.content.dashboards import DASHBOARDS
from promstack.content.rules import iter_rules, recorded_metric_names, rule_files

ISSUE_COMMAND = "promstack certs issue --cluster {cluster} --sealing-cert <controller-cert.pem>"


@dataclass(frozen=True)
class SealedServingCert:
    """The adapter's serving certificate as `promstack certs issue` left it: the SealedSecret
    manifest (keys ``serving.crt``/``serving.key``) and the PEM of the CA the APIService trusts."""

    manifest: dict[str, Any]
    ca_pem: bytes


@dataclass(frozen=True)
class ClusterInputs:
    """The sealed inputs of one cluster folder; ``None`` where the folder has none."""

    adapter_serving_cert: SealedServingCert | None = None
    grafana_admin: dict[str, Any] | None = None
    alertmanager_receivers: dict[str, Any] | None = None
    prometheus_scrape_secrets: dict[str, Any] | None = None
    prometheus_remote_write: dict[str, Any] | None = None
    #: CA certificates of the cluster folder that remoteWrite endpoints trust: file name -> PEM.
    remote_write_cas: Mapping[str, str] = field(default_factory=dict)
    #: The cluster's sealed credentials for the fleet's hub (clusters/fleet.yaml ``hub:``).
    fleet_hub: dict[str, Any] | None = None
    #: The sealed kubernetes.io/tls Secrets of UIs exposed through an Ingress with tls.sealed, by UI.
    exposure_tls: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    #: The sealed basic-auth Secrets (``<ui>-web-auth``) of Prometheus and Alertmanager, by UI.
    web_auth: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    #: The team's rule files and dashboards, file name -> text, checked (see load_team_content).
    team_rule_files: Mapping[str, str] = field(default_factory=dict)
    team_dashboards: Mapping[str, str] = field(default_factory=dict)


def load_sealed_input(path: Path, *, name: str, namespace: str, required_keys: Collection[str],
                      fix: str) -> dict[str, Any]:
    """Read a SealedSecret file and check it is the Secret the component mounts, in its namespace."""
    try:
        manifest = read_sealed_secret(path)
    except CertError as exc:
        raise ConfigError([str(exc)]) from None
    meta = manifest["metadata"]
    problems = []
    if meta["name"] != name:
        problems.append(f"{path}: metadata.name: must be {name}; {fix}")
    if meta["namespace"] != namespace:
        problems.append(f"{path}: metadata.namespace: {meta['namespace']!r} is not the cluster's namespace "
                        f"{namespace!r}; the controller could not decrypt it there; {fix}")
    missing = sorted(set(required_keys) - set(manifest["spec"]["encryptedData"]))
    if missing:
        problems.append(f"{path}: spec.encryptedData: missing {', '.join(missing)}; {fix}")
    if problems:
        raise ConfigError(problems)
    return manifest


def load_serving_cert(cluster: ClusterConfig) -> SealedServingCert:
    """The sealed serving certificate and CA for adapter.tls.mode ``sealed``."""
    sealed_file, ca_file = cluster.path / names.ADAPTER_SEALED_SECRET_FILE, cluster.path / names.ADAPTER_CA_FILE
    issue = f"run `{ISSUE_COMMAND.format(cluster=cluster.name)}`"
    missing = [p for p in (sealed_file, ca_file) if not p.exists()]
    if missing:
        raise ConfigError([f"{p}: (file): missing for adapter.tls.mode sealed; {issue}" for p in missing])
    manifest = load_sealed_input(sealed_file, name=names.ADAPTER_SERVING_SECRET, namespace=cluster.namespace,
                                 required_keys=names.ADAPTER_SERVING_KEYS, fix=f"{issue} --force")
    ca_pem = ca_file.read_bytes()
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError("basicConstraints says it is not a CA")
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise ConfigError([f"{ca_file}: (file): not a PEM CA certificate ({exc}); {issue} --force"]) from None
    return SealedServingCert(manifest=manifest, ca_pem=ca_pem)


#: The one command that makes the admin Secret of a cluster without Sealed Secrets (README, "Exposing a UI").
EXISTING_ADMIN_COMMAND = ("kubectl -n {namespace} create secret generic " + names.GRAFANA_ADMIN_SECRET
                          + " --from-literal=admin-user=admin"
                          + " --from-literal=admin-password=\"$(openssl rand -base64 24)\"")


#: Shortest sealed Grafana admin password accepted (its length shows through the ciphertext).
MIN_ADMIN_PASSWORD_BYTES = 12


def load_grafana_admin(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed Grafana admin Secret (``grafana.adminSecret: sealed``, the default: a missing file
    is an error, never a fallback to Grafana's admin/admin), or None for ``existing``."""
    sealed_file = cluster.path / names.GRAFANA_ADMIN_SECRET_FILE
    seal = (f"promstack seal --cluster {cluster.name} --name {names.GRAFANA_ADMIN_SECRET} "
            "--from-file admin-password=<file>")
    if cluster.spec.grafana.admin_secret == "existing":
        if sealed_file.exists():
            raise ConfigError([f"{show_path(sealed_file)}: (file): grafana.adminSecret is existing, so this sealed "
                               "admin Secret would never be used; remove the file or set grafana.adminSecret: sealed"])
        return None
    if not sealed_file.exists():
        raise ConfigError([
            f"{show_path(sealed_file)}: (file): missing; Grafana's admin password is a sealed input (there is no "
            f"default login): run `{seal}`, or, on a cluster without a Sealed Secrets controller, set "
            f"grafana.adminSecret: existing in cluster.yaml and create the Secret once with "
            f"`{EXISTING_ADMIN_COMMAND.format(namespace=cluster.namespace)}`"])
    manifest = load_sealed_input(sealed_file, name=names.GRAFANA_ADMIN_SECRET, namespace=cluster.namespace,
                                 required_keys=("admin-password",), fix=f"re-seal it with `{seal}`")
    # Grafana takes an empty admin_password as unset and falls back to its default, admin.
    length = sealed_value_length(manifest["spec"]["encryptedData"]["admin-password"])
    if length is None or length < MIN_ADMIN_PASSWORD_BYTES:
        held = "no sealed value" if length is None else f"{length} bytes"
        raise ConfigError([f"{show_path(sealed_file)}: spec.encryptedData.admin-password: holds {held}; Grafana "
                           f"would fall back to its default password for an empty one, so at least "
                           f"{MIN_ADMIN_PASSWORD_BYTES} are required; re-seal it with `{seal}` from a file made with "
                           "`openssl rand -base64 24`"])
    return manifest


def load_sealed_keys(cluster: ClusterConfig, *, secret: str, keys: list[str], named_by: str,
                     named_in: str = "cluster.yaml") -> dict[str, Any] | None:
    """The cluster folder's ``<secret>.sealedsecret.yaml``, holding every key in ``keys`` (the keys
    ``named_by`` names); None when there is no such file and no key is needed."""
    sealed_file = cluster.path / f"{secret}.sealedsecret.yaml"
    seal = (f"promstack seal --cluster {cluster.name} --name {secret} "
            + " ".join(f"--from-file {key}=<file>" for key in keys or ["<key>"]))
    if not sealed_file.exists():
        if keys:
            raise ConfigError([f"{sealed_file}: (file): missing; {named_by} in {named_in} name the sealed "
                               f"keys {', '.join(keys)}; run `{seal}`"])
        return None
    return load_sealed_input(sealed_file, name=secret, namespace=cluster.namespace, required_keys=keys,
                             fix=f"seal every key {named_by} name: `{seal}`")


def load_alertmanager_receivers(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed receiver secrets, holding every key the receivers in cluster.yaml name."""
    return load_sealed_keys(cluster, secret=alerting.RECEIVERS_SECRET, keys=cluster.spec.alertmanager.secret_keys(),
                            named_by="the receivers")


def load_scrape_secrets(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed credentials of extra scrape jobs, holding every key the jobs name."""
    return load_sealed_keys(cluster, secret=scraping.SCRAPE_SECRET,
                            keys=scraping.secret_keys(cluster.spec.prometheus.extra_scrape_configs),
                            named_by="prometheus.extraScrapeConfigs")


def load_remote_write_secrets(cluster: ClusterConfig) -> dict[str, Any] | None:
    """The sealed remote-write credentials, holding every key the endpoints name."""
    return load_sealed_keys(cluster, secret=remote_write.REMOTE_WRITE_SECRET,
                            keys=remote_write.secret_keys(cluster.spec.prometheus.remote_write),
                            named_by="prometheus.remoteWrite")


#: Largest CA file read, in bytes (a bundle of a few dozen certificates).
MAX_CA_FILE_BYTES = 64 * 1024


def load_remote_write_cas(cluster: ClusterConfig) -> dict[str, str]:
    """The CA files of the cluster folder that remoteWrite endpoints name (``tls.caFile``), each
    one or more PEM certificates."""
    cas, problems = {}, []
    for i, endpoint in enumerate(cluster.spec.prometheus.remote_write):
        name = endpoint.tls.ca_file if endpoint.tls else None
        if not name or name in cas:
            continue
        path = cluster.path / name
        where = f"{show_path(cluster.file)}: prometheus.remoteWrite[{i}].tls.caFile"
        if not path.exists():
            problems.append(f"{where}: {show_path(path)} does not exist; put the CA certificate (PEM) of "
                            f"{endpoint.url} there, beside cluster.yaml")
            continue
        try:
            text = read_text(path, if_missing="restore it", max_bytes=MAX_CA_FILE_BYTES)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        try:
            x509.load_pem_x509_certificates(text.encode())
        except ValueError as exc:
            problems.append(f"{where}: {show_path(path)} is not PEM certificates ({exc}); save the CA "
                            "certificate in PEM (-----BEGIN CERTIFICATE-----)")
            continue
        cas[name] = text
    if problems:
        raise ConfigError(problems)
    return cas


def load_exposure_tls(cluster: ClusterConfig) -> dict[str, dict[str, Any]]:
    """``<ui>-tls.sealedsecret.yaml`` of every UI whose Ingress takes a sealed certificate."""
    spec = cluster.spec
    found, problems = {}, []
    for ui, exposure in ((names.PROMETHEUS, spec.prometheus.exposure), (names.GRAFANA, spec.grafana.exposure),
                         (names.ALERTMANAGER, spec.alertmanager.exposure)):
        if exposure.tls is None or not exposure.tls.sealed:
            continue
        secret = f"{ui}-tls"
        sealed_file = cluster.path / f"{secret}.sealedsecret.yaml"
        seal = (f"promstack seal --cluster {cluster.name} --name {secret} --type kubernetes.io/tls "
                "--from-file tls.crt=<cert.pem> --from-file tls.key=<key.pem>")
        if not sealed_file.exists():
            problems.append(f"{show_path(sealed_file)}: (file): missing; {ui}.exposure.tls.sealed names this "
                            f"certificate; run `{seal}`, or let cert-manager issue it (tls.clusterIssuer)")
            continue
        try:
            manifest = load_sealed_input(sealed_file, name=secret, namespace=cluster.namespace,
                                         required_keys=("tls.crt", "tls.key"), fix=f"re-seal it with `{seal}`")
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if manifest["spec"].get("template", {}).get("type") != "kubernetes.io/tls":
            problems.append(f"{show_path(sealed_file)}: spec.template.type: must be kubernetes.io/tls for an "
                            f"Ingress certificate; re-seal it with `{seal}`")
            continue
        found[ui] = manifest
    if problems:
        raise ConfigError(problems)
    return found


def load_web_auth(cluster: ClusterConfig) -> dict[str, dict[str, Any]]:
    """``<ui>-web-auth.sealedsecret.yaml`` of Prometheus and Alertmanager where their basic auth is on
    (``exposure.auth: basic``, the default once exposed); a file nothing uses is an error too."""
    found, problems = {}, []
    for ui, exposure in ((names.PROMETHEUS, cluster.spec.prometheus.exposure),
                         (names.ALERTMANAGER, cluster.spec.alertmanager.exposure)):
        secret = f"{ui}{names.WEB_AUTH_SECRET_SUFFIX}"
        sealed_file = cluster.path / f"{secret}.sealedsecret.yaml"
        seal = f"promstack seal-web-auth --cluster {cluster.name} --ui {ui} --password-file <file>"
        keys = [names.WEB_CONFIG_KEY, names.CLIENT_PASSWORD_KEY] + (
            [names.ADAPTER_AUTH_KEY] if ui == names.PROMETHEUS else [])
        if not exposure.basic_auth:
            if sealed_file.exists():
                problems.append(f"{show_path(sealed_file)}: (file): {ui} has no basic auth ({ui}.exposure.auth), so "
                                f"these credentials would never be used; remove the file or set {ui}.exposure.auth: "
                                "basic")
            continue
        if not sealed_file.exists():
            why = "auth: basic" if exposure.auth == "basic" else f"type {exposure.type} exposes it, so it needs auth"
            problems.append(f"{show_path(sealed_file)}: (file): missing; {ui}.exposure ({why}) requires basic auth "
                            f"and {ui} has no login of its own; run `{seal}`, or set {ui}.exposure.auth: none "
                            "(synth warns)")
            continue
        try:
            found[ui] = load_sealed_input(sealed_file, name=secret, namespace=cluster.namespace, required_keys=keys,
                                          fix=f"re-seal it with `{seal}`")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return found


#: The folders, in a cluster folder and in clusters/_shared/, a team puts its own files in.
TEAM_RULES_DIR = "rules"
TEAM_DASHBOARDS_DIR = "dashboards"
#: Largest team rule file or dashboard read, in bytes.
MAX_TEAM_FILE_BYTES = 256 * 1024


def _team_folder(folder: Path, suffix: str, problems: list[str]) -> dict[str, Path]:
    """name -> path of every ``*suffix`` file directly in ``folder`` (none when it does not exist);
    any other entry but a hidden one is a problem, so a misnamed file is never silently left out."""
    if not folder.exists() and not folder.is_symlink():
        return {}
    if not folder.is_dir():
        problems.append(f"{show_path(folder)}: (folder): not a folder; make it a folder of <name>{suffix} files")
        return {}
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if team.is_file_name(entry.name, suffix):
            found[entry.name] = entry  # read_text refuses what is no regular file
        elif entry.is_dir() and not entry.is_symlink():
            problems.append(f"{show_path(entry)}: (folder): {folder.name}/ is read flat, not its subfolders; "
                            f"move the files up into {folder.name}/")
        else:
            problems.append(f"{show_path(entry)}: (file name): not read: only <name>{suffix} files are; rename it "
                            "(letters, digits, '-', '_', '.') or move it out")
    return found


def _team_texts(cluster: ClusterConfig, sub: str, suffix: str,
                problems: list[str]) -> tuple[dict[str, tuple[Path, str]], dict[Path, str]]:
    """The chosen files (name -> (path, text): a cluster's file replaces the shared file of the same
    name) and the text of every file read, shared ones a cluster replaces included."""
    chosen: dict[str, tuple[Path, str]] = {}
    texts: dict[Path, str] = {}
    for folder in (cluster.path.parent / SHARED_DIR / sub, cluster.path / sub):  # the cluster's own last: it wins
        for name, path in _team_folder(folder, suffix, problems).items():
            try:
                texts[path] = read_text(path, if_missing="restore it or remove the link",
                                        max_bytes=MAX_TEAM_FILE_BYTES)
            except ConfigError as exc:
                problems.extend(exc.problems)
                chosen.pop(name, None)
                continue
            chosen[name] = (path, texts[path])
    return chosen, texts


def _size_problem(what: str, chosen: Mapping[str, tuple[Path, str]], data: Mapping[str, str], into: str) -> list[str]:
    size = config_map_bytes(data)
    if size <= MAX_CONFIG_MAP_BYTES:
        return []
    folders = sorted({show_path(path.parent) for path, _ in chosen.values()})
    return [f"{', '.join(folders)}: (files): the {what} come to {size} bytes in ConfigMap {into}, over the "
            f"{MAX_CONFIG_MAP_BYTES} (1 MiB) the API server accepts; make them smaller or move some out"]


def load_team_rule_files(cluster: ClusterConfig) -> dict[str, str]:
    """``clusters/_shared/rules/*.rules.yaml`` and ``clusters/<name>/rules/*.rules.yaml``, file name ->
    text, each checked (content.team) and together: group names unique, no built-in group, alert,
    recorded series or file name reused, and the rules ConfigMap within 1 MiB."""
    problems: list[str] = []
    chosen, texts = _team_texts(cluster, TEAM_RULES_DIR, team.RULE_FILE_SUFFIX, problems)
    facts = {}
    for path, text in texts.items():
        facts[path], found = team.check_rule_file(text, show_path(path))
        problems.extend(found)
    built_in = rule_files(cluster.spec.alerts)
    built_in_groups = {group for _, group, _ in iter_rules(cluster.spec.alerts)}
    built_in_alerts = {getattr(rule, "alert", None) for _, _, rule in iter_rules(cluster.spec.alerts)} - {None}
    built_in_records = recorded_metric_names()
    groups: dict[str, Path] = {}
    for name, (path, _) in sorted(chosen.items()):
        source = show_path(path)
        if name in built_in:
            problems.append(f"{source}: (file name): promstack's own rules are in {name}; rename the file")
        for group in facts[path].groups:
            if group in built_in_groups:
                problems.append(f"{source}: groups: {group!r} is a built-in rule group; rename the group")
            elif group in groups:
                problems.append(f"{source}: groups: {group!r} is a group of {show_path(groups[group])} too; "
                                "give each group its own name")
            else:
                groups[group] = path
        for alert in sorted(set(facts[path].alerts) & built_in_alerts):
            problems.append(f"{source}: alert: {alert!r} is a built-in alert; give yours its own name")
        for record in sorted(set(facts[path].records) & built_in_records):
            problems.append(f"{source}: record: {record!r} is recorded by a built-in rule; record another name")
    team_files = {name: text for name, (_, text) in sorted(chosen.items())}
    problems += _size_problem("rule files, with the built-in ones,", chosen, {**built_in, **team_files},
                              "prometheus-rules")
    if problems:
        raise ConfigError(problems)
    return team_files


def load_team_dashboards(cluster: ClusterConfig) -> dict[str, str]:
    """``clusters/_shared/dashboards/*.json`` and ``clusters/<name>/dashboards/*.json``, file name ->
    text, each checked (content.team) and together: uids unique and none a built-in one, titles
    unique (one Grafana folder), and their ConfigMap within 1 MiB."""
    problems: list[str] = []
    chosen, texts = _team_texts(cluster, TEAM_DASHBOARDS_DIR, team.DASHBOARD_SUFFIX, problems)
    facts = {}
    for path, text in texts.items():
        *facts[path], found = team.check_dashboard(text, show_path(path))
        problems.extend(found)
    uids: dict[str, Path] = {}
    titles: dict[str, Path] = {}
    for _, (path, _) in sorted(chosen.items()):
        source = show_path(path)
        uid, title = facts[path]
        if uid in DASHBOARDS:
            problems.append(f"{source}: uid: {uid!r} is a built-in dashboard's uid; give yours its own")
        elif uid is not None and uid in uids:
            problems.append(f"{source}: uid: {uid!r} is the uid of {show_path(uids[uid])} too; give each "
                            "dashboard its own")
        elif uid is not None:
            uids[uid] = path
        if title is not None and title in titles:
            problems.append(f"{source}: title: {title!r} is the title of {show_path(titles[title])} too; Grafana "
                            "wants one title per folder, give each dashboard its own")
        elif title is not None:
            titles[title] = path
    dashboards = {name: text for name, (_, text) in sorted(chosen.items())}
    problems += _size_problem("dashboards", chosen, dashboards, "grafana-team-dashboards")
    if problems:
        raise ConfigError(problems)
    return dashboards


def check_agent_mode(cluster: ClusterConfig, hub: HubConfig | None, fleet_file: str = "clusters/fleet.yaml") -> None:
    """An agent keeps no TSDB to query: prometheus-adapter then needs the fleet's hub, with a token."""
    if cluster.spec.prometheus.mode != "agent":
        return
    if cluster.spec.autoscaling.provider == "keda":
        # ScaledObjects query the stack's Prometheus; pointing them at the hub would need every
        # query scoped to this cluster's series, which promstack does not rewrite (yet).
        raise ConfigError([f"{show_path(cluster.file)}: prometheus.mode: agent keeps no TSDB to query, and KEDA's "
                           "ScaledObjects query this stack's Prometheus; use mode server with provider keda, or "
                           "provider prometheus-adapter, which queries the fleet's hub"])
    if not cluster.spec.autoscaling.renders_adapter:
        return
    if hub is None:
        raise ConfigError([f"{show_path(cluster.file)}: prometheus.mode: agent keeps no TSDB to query, and "
                           f"prometheus-adapter needs one; name the fleet's store in {fleet_file} (hub.queryUrl), or "
                           "use mode server"])
    if hub.basic_auth is not None:
        raise ConfigError([f"{fleet_file}: hub.basicAuth: prometheus-adapter of cluster {cluster.name} (agent mode) "
                           "queries the hub and authenticates with a bearer token only; give hub.bearerTokenSecret"])


def load_hub_secret(cluster: ClusterConfig, hub: HubConfig | None) -> dict[str, Any] | None:
    """The cluster's sealed hub credentials, holding every key clusters/fleet.yaml's hub names."""
    if hub is None:
        return None
    return load_sealed_keys(cluster, secret=HUB_SECRET, keys=hub.secret_keys(), named_by="hub",
                            named_in="clusters/fleet.yaml")


def load_inputs(cluster: ClusterConfig, hub: HubConfig | None = None) -> ClusterInputs:
    """Every input the cluster's settings (and the fleet's ``hub``) call for, or a ConfigError
    naming each missing or bad file."""
    check_agent_mode(cluster, hub)
    # Under KEDA (without keepAdapter) no adapter is rendered, so it needs no serving certificate.
    serving = (load_serving_cert(cluster)
               if cluster.spec.adapter.tls.mode == "sealed" and cluster.spec.autoscaling.renders_adapter else None)
    problems: list[str] = []
    team_content: list[dict[str, str]] = []
    for load in (load_team_rule_files, load_team_dashboards):
        try:
            team_content.append(load(cluster))
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        grafana_admin = load_grafana_admin(cluster)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        exposure_tls = load_exposure_tls(cluster)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        web_auth = load_web_auth(cluster)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return ClusterInputs(adapter_serving_cert=serving, grafana_admin=grafana_admin,
                         alertmanager_receivers=load_alertmanager_receivers(cluster),
                         prometheus_scrape_secrets=load_scrape_secrets(cluster),
                         prometheus_remote_write=load_remote_write_secrets(cluster),
                         remote_write_cas=load_remote_write_cas(cluster),
                         fleet_hub=load_hub_secret(cluster, hub),
                         exposure_tls=exposure_tls, web_auth=web_auth,
                         team_rule_files=team_content[0], team_dashboards=team_content[1])
