"""``promstack certs issue``, ``promstack certs check`` and ``promstack seal``.

``register(subparsers)`` adds the commands to the main parser; each sets ``func`` so the caller runs
``args.func(args)`` and exits with the returned code: 0 success, 1 a failed ``certs check``,
2 a usage/input error (printed as one line ``promstack: error: <file>: <field>: <message>; <fix>``).

``certs issue`` is split in two: ``plan_issue`` decides, from an ``IssueRequest`` (parsed flags plus
the bytes already on disk), what to write and what to say, without touching the filesystem;
``cmd_certs_issue`` reads the inputs, calls it and writes the ``IssuePlan`` all-or-nothing.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from cryptography import x509

from promstack.certs import PATH_ECHO_LIMIT, PRIVATE_MODE, PUBLIC_MODE, CertError, clip, write_files_atomically
from promstack.certs.facts import CertFacts, dump_facts, iso_utc, parse_facts, read_facts
from promstack.certs.pki import (
    DEFAULT_CA_DAYS,
    DEFAULT_SERVING_DAYS,
    KEY_TYPES,
    MAX_SERVING_DAYS,
    KeyType,
    PrivateKey,
    cert_to_pem,
    issue_serving_cert,
    key_to_pem,
    load_ca,
    load_cert_pem,
    new_ca,
    serving_dns_names,
)
from promstack.certs.sealing import (
    FETCH_CERT_FIX,
    SCOPES,
    Scope,
    cert_fingerprint,
    dump_manifest,
    load_sealing_cert,
    parse_sealed_secret,
    read_sealed_secret,
    scope_annotations,
    sealed_secret_manifest,
)
from promstack.config.cluster import load_cluster
from promstack.config.model import ConfigError
from promstack.config.names import (
    ADAPTER_CA_FILE,
    ADAPTER_SEALED_SECRET_FILE,
    ADAPTER_SERVING_CERT_KEY,
    ADAPTER_SERVING_KEY_KEY,
    ADAPTER_SERVING_SECRET,
    CERT_FACTS_FILE,
    PROMETHEUS_ADAPTER,
    SEALING_CERT_FILE,
)

#: Re-issue when the serving certificate (or its CA) has this many days left or fewer.
DEFAULT_RENEW_DAYS = 30
DEFAULT_CLUSTERS_DIR = "clusters"
#: Keys of the adapter's serving Secret (Opaque: kubernetes.io/tls would demand tls.crt/tls.key).
SERVING_CERT_KEY = ADAPTER_SERVING_CERT_KEY
SERVING_KEY_KEY = ADAPTER_SERVING_KEY_KEY
SEALED_SECRET_SUFFIX = ".sealedsecret.yaml"
#: Opaque, kubernetes.io/tls, bootstrap.kubernetes.io/token ...: a name, optionally under a domain.
SECRET_TYPE = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")

# Used with fullmatch: `$` alone would also accept a trailing line break.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
#: Kubernetes' limit for a Secret name and a data key (a DNS-1123 subdomain's length).
MAX_NAME_LENGTH = 253
#: Most bytes read from a --sealing-cert, --ca-cert or --ca-key argument.
MAX_PEM_BYTES = 1024 * 1024
#: A Secret, all its values together, holds at most 1 MiB.
MAX_SECRET_BYTES = 1024 * 1024
#: The longest --name whose file ``<name>.sealedsecret.yaml`` fits a 255-byte file name.
MAX_SEALED_NAME_LENGTH = 255 - len(SEALED_SECRET_SUFFIX)

Command = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- registration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``certs {issue,check}`` and ``seal`` to the main parser's ``subparsers``."""
    certs = subparsers.add_parser(
        "certs",
        help="issue and check the prometheus-adapter serving certificate",
        description="Issue and check the prometheus-adapter serving certificate (sealed into the repo).",
    )
    certs_sub = certs.add_subparsers(dest="certs_command", metavar="{issue,check}", required=True)

    issue = certs_sub.add_parser(
        "issue",
        help="issue (or renew) the adapter serving certificate and seal it",
        description=(
            "Issue the prometheus-adapter serving certificate, seal it for the cluster's sealed-secrets "
            f"controller and write clusters/NAME/{{{ADAPTER_SEALED_SECRET_FILE},{ADAPTER_CA_FILE},"
            f"{CERT_FACTS_FILE},{SEALING_CERT_FILE}}}. Nothing private is written into the repository. "
            "Does nothing while the current certificate is still good, unless --force."
        ),
    )
    _add_cluster_args(issue, required=True)
    _add_sealing_cert_arg(issue, default_help=f"default: clusters/NAME/{SEALING_CERT_FILE} from an earlier run")
    issue.add_argument("--ca-cert", metavar="PEM", help="sign with this existing CA certificate (with --ca-key)")
    issue.add_argument("--ca-key", metavar="PEM", help="private key of --ca-cert (unencrypted PEM)")
    issue.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        help="serving (and generated CA) key type (default: as recorded in certs.yaml, else ecdsa-p256)",
    )
    issue.add_argument(
        "--days", type=_serving_days, default=DEFAULT_SERVING_DAYS,
        help=f"serving certificate validity in days, 1 to {MAX_SERVING_DAYS} (default: {DEFAULT_SERVING_DAYS})",
    )
    issue.add_argument(
        "--scope", choices=SCOPES,
        help="sealing scope of the Secret (default: as recorded in certs.yaml, else strict)",
    )
    issue.add_argument(
        "--ca-out", metavar="DIR",
        help="keep a generated CA (certificate and private key) in DIR, which must be outside the git "
        "repository (default: the CA key is discarded)",
    )
    issue.add_argument(
        "--renew-within", type=_non_negative_int, default=DEFAULT_RENEW_DAYS, metavar="DAYS",
        help=f"re-issue when the current certificate has this many days left or fewer (default: {DEFAULT_RENEW_DAYS})",
    )
    issue.add_argument("--force", action="store_true", help="re-issue even if the current certificate is still good")
    issue.set_defaults(func=cmd_certs_issue)

    check = certs_sub.add_parser(
        "check",
        help="fail if a serving certificate is close to expiry or the recorded facts disagree",
        description="Check every cluster with a certs.yaml (or only --cluster): expiry, CA bundle, sealing cert.",
    )
    _add_cluster_args(check, required=False)
    check.add_argument(
        "--min-days", type=_non_negative_int, default=DEFAULT_RENEW_DAYS,
        help=f"fail when a certificate has fewer days left (default: {DEFAULT_RENEW_DAYS})",
    )
    check.set_defaults(func=cmd_certs_check)

    seal = subparsers.add_parser(
        "seal",
        help="seal a Secret into clusters/NAME/SECRET.sealedsecret.yaml",
        description="Seal a Secret for the cluster's sealed-secrets controller, like `kubeseal --cert`.",
    )
    _add_cluster_args(seal, required=True)
    seal.add_argument("--name", required=True, help="name of the Secret (and SealedSecret)")
    seal.add_argument(
        "--from-literal", action="append", default=[], metavar="KEY=VALUE",
        help="a literal value (ends up in your shell history: prefer --from-file)",
    )
    seal.add_argument(
        "--from-file", action="append", default=[], metavar="[KEY=]PATH",
        help="a value read from PATH (key defaults to the file name)",
    )
    seal.add_argument("--scope", choices=SCOPES, default="strict", help="sealing scope (default: strict)")
    seal.add_argument("--type", default="Opaque", dest="secret_type", help="Secret type (default: Opaque)")
    _add_sealing_cert_arg(seal, default_help=f"default: clusters/NAME/{SEALING_CERT_FILE}")
    seal.set_defaults(func=cmd_seal)


def _add_cluster_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--cluster", required=required, metavar="NAME", help="cluster folder name under --clusters-dir")
    parser.add_argument(
        "--clusters-dir", default=DEFAULT_CLUSTERS_DIR, metavar="DIR",
        help=f"folder holding one folder per cluster (default: {DEFAULT_CLUSTERS_DIR})",
    )


def _add_sealing_cert_arg(parser: argparse.ArgumentParser, *, default_help: str) -> None:
    parser.add_argument(
        "--sealing-cert", metavar="PEM|-",
        help=f"the sealed-secrets controller's certificate (`kubeseal --fetch-cert`); - reads stdin ({default_help})",
    )


def _whole_number(text: str) -> int:
    # ArgumentTypeError, not ValueError: argparse would echo all of a 4000-digit argument back.
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{clip(text)}'") from None


def _serving_days(text: str) -> int:
    """``--days``: a certificate valid past year 9999 cannot be encoded, and none may outlive its CA."""
    value = _whole_number(text)
    if not 1 <= value <= MAX_SERVING_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SERVING_DAYS}, got {clip(value)}")
    return value


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {clip(value)}")
    return value


def _print_errors(exc: Exception) -> None:
    """One ``promstack: error:`` line per problem (a ConfigError may carry several)."""
    for line in exc.problems if isinstance(exc, ConfigError) else [str(exc)]:
        print(f"promstack: error: {line}", file=sys.stderr)


def _reports_errors(command: Command) -> Command:
    """Turn an input error into one ``promstack: error: ...`` line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (CertError, ConfigError) as exc:
            _print_errors(exc)
            return 2

    return wrapper


# --------------------------------------------------------------------------- shared helpers


def _show(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter output), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _cluster_dir(clusters_dir: Path, name: str) -> Path:
    if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        raise CertError("--cluster", "", f"'{clip(name)}' is not a cluster folder name",
                        "pass the folder name, e.g. --cluster demo")
    folder = clusters_dir / name
    if not folder.is_dir():
        known = sorted(p.name for p in clusters_dir.iterdir() if p.is_dir()) if clusters_dir.is_dir() else []
        hint = f"pick one of: {', '.join(known)}" if known else f"create {_show(folder)}/cluster.yaml"
        raise CertError(_show(folder), "", "no such cluster folder", hint)
    return folder


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (a folder, or a file in worktrees)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _ca_out_folder(arg: str, *, repo_roots: Iterable[Path | None]) -> Path:
    """The resolved ``--ca-out`` folder, refused when it (symlinks followed) lies inside one of
    ``repo_roots`` (the clusters folder's repository and the working directory's) or is, or sits
    below, something that is not a folder (``/dev/null``, an existing file)."""
    ca_out = Path(arg).resolve()
    keep_out = "keep the CA key outside the repository, e.g. --ca-out ~/.promstack/ca"
    for root in dict.fromkeys(r.resolve() for r in repo_roots if r is not None):
        if ca_out.is_relative_to(root):
            raise CertError("--ca-out", "", f"{clip(ca_out, PATH_ECHO_LIMIT)} is inside the git repository "
                            f"{clip(root, PATH_ECHO_LIMIT)}", keep_out)
    existing = ca_out
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == ca_out else f"would be inside {clip(existing, PATH_ECHO_LIMIT)}, which is"
        raise CertError("--ca-out", "", f"{clip(ca_out, PATH_ECHO_LIMIT)} {what} not a folder",
                        "pass a folder (created if missing) outside the repository, e.g. --ca-out ~/.promstack/ca")
    return ca_out


def _read_pem_arg(value: str) -> tuple[bytes, str]:
    """Bytes of a PEM argument and a name for error messages; ``-`` reads stdin.

    Pipes are fine (``<(kubeseal --fetch-cert)``), but at most ``MAX_PEM_BYTES`` are read: a
    certificate or key is a few KiB, and ``/dev/zero`` would otherwise be read until memory ran out.
    """
    source = "<stdin>" if value == "-" else value
    try:
        if value == "-":
            data = sys.stdin.buffer.read(MAX_PEM_BYTES + 1)
        else:
            with open(value, "rb") as fh:
                data = fh.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise CertError(source, "", f"cannot read ({exc.strerror})", FETCH_CERT_FIX) from exc
    if len(data) > MAX_PEM_BYTES:
        raise CertError(source, "", f"is larger than {MAX_PEM_BYTES} bytes; a PEM certificate or key is a few KiB",
                        f"check the path; {FETCH_CERT_FIX}")
    return data, source


def _sealing_cert(arg: str | None, cluster_dir: Path, now: datetime) -> x509.Certificate:
    """The sealing certificate from ``arg`` or, by default, the copy kept in the cluster folder."""
    if arg is None:
        stored = cluster_dir / SEALING_CERT_FILE
        if not stored.exists():
            raise CertError(_show(stored), "", "no sealing certificate recorded for this cluster",
                            f"pass --sealing-cert PEM; {FETCH_CERT_FIX}")
        arg = str(stored)
    pem, source = _read_pem_arg(arg)
    return load_sealing_cert(pem, _show(Path(source)) if source != "<stdin>" else source, now=now)


def _check_pem_free(files: dict[Path, tuple[bytes, int]], repo_root: Path) -> None:
    # Belt and braces: whatever the code above did, no private key may land inside the repository.
    for path, (content, _) in files.items():
        if path.resolve().is_relative_to(repo_root) and b"PRIVATE KEY" in content:
            raise RuntimeError(f"refusing to write a private key into the repository: {path}")


# --------------------------------------------------------------------------- certs issue


@dataclass(frozen=True)
class _ClusterFiles:
    """The files ``certs issue`` owns inside ``clusters/<name>/``."""

    folder: Path

    @property
    def sealed(self) -> Path:
        return self.folder / ADAPTER_SEALED_SECRET_FILE

    @property
    def ca(self) -> Path:
        return self.folder / ADAPTER_CA_FILE

    @property
    def facts(self) -> Path:
        return self.folder / CERT_FACTS_FILE

    @property
    def sealing(self) -> Path:
        return self.folder / SEALING_CERT_FILE


@dataclass(frozen=True)
class IssueRequest:
    """Everything ``plan_issue`` decides from: the parsed flags, and what the CLI read from disk.

    ``existing`` holds the current bytes of the files ``certs issue`` owns in the cluster folder,
    by file name (a missing file is simply absent). ``shown_folder`` is how messages name the
    cluster folder (e.g. ``clusters/demo``); ``ca_out`` is the resolved ``--ca-out`` folder, used
    only to name files, never opened by the planner.
    """

    cluster: str
    namespace: str
    sealing_cert: x509.Certificate
    now: datetime
    existing: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    ca: tuple[x509.Certificate, PrivateKey] | None = field(default=None, repr=False)
    scope: Scope | None = None
    key_type: KeyType | None = None
    days: int = DEFAULT_SERVING_DAYS
    renew_within: int = DEFAULT_RENEW_DAYS
    force: bool = False
    ca_out: Path | None = None
    shown_folder: str = ""

    def shown(self, name: str) -> str:
        return f"{self.shown_folder}/{name}" if self.shown_folder else name


@dataclass(frozen=True)
class IssuePlan:
    """What ``certs issue`` will write, decided without touching the filesystem.

    ``files``: cluster-folder-relative name -> bytes, in write order (``certs.yaml`` last: it vouches
    for the others). ``ca_files``: ``--ca-out``-relative name -> bytes for a generated CA that is
    kept (its ``.key`` is the only private file ever written; left out of ``repr``). ``lines``: the
    human summary, printed once everything is written. No files at all means nothing to do.
    """

    files: Mapping[str, bytes]
    lines: tuple[str, ...]
    ca_files: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def changes_files(self) -> bool:
        return bool(self.files or self.ca_files)


def ca_out_names(cluster: str) -> tuple[str, str]:
    """File names of a kept CA in ``--ca-out``: (certificate, private key)."""
    return f"{cluster}-adapter-ca.crt", f"{cluster}-adapter-ca.key"


def _reissue_reason(
    request: IssueRequest,
    facts: CertFacts,
    *,
    scope: Scope,
    key_type: KeyType,
) -> str | None:
    """Why the current certificate must be replaced, or None if it is still good for this request."""
    now, renew_days, namespace, existing = request.now, request.renew_within, request.namespace, request.existing
    for name in (ADAPTER_SEALED_SECRET_FILE, ADAPTER_CA_FILE, SEALING_CERT_FILE):
        if name not in existing:
            return f"{request.shown(name)} is missing"
    left = facts.days_left(now)
    if left <= renew_days:
        return f"the serving certificate has {left} days left (renewal window {renew_days})"
    if facts.serving_not_before > now:
        return "the serving certificate is not valid yet"
    if (facts.ca_not_after - now).days <= renew_days:
        return f"the CA expires on {iso_utc(facts.ca_not_after)}, within the renewal window"
    try:
        on_disk_ca = load_cert_pem(existing[ADAPTER_CA_FILE], request.shown(ADAPTER_CA_FILE))
        on_disk_sealing = load_cert_pem(existing[SEALING_CERT_FILE], request.shown(SEALING_CERT_FILE))
        sealed = parse_sealed_secret(existing[ADAPTER_SEALED_SECRET_FILE], request.shown(ADAPTER_SEALED_SECRET_FILE))
    except CertError as exc:
        return str(exc)
    if cert_fingerprint(on_disk_ca) != facts.ca_sha256:
        return f"{request.shown(ADAPTER_CA_FILE)} does not match {CERT_FACTS_FILE}"
    if request.ca is not None and cert_fingerprint(request.ca[0]) != facts.ca_sha256:
        return "--ca-cert is not the CA that signed the current serving certificate"
    if cert_fingerprint(request.sealing_cert) != facts.sealing_sha256:
        return "the sealing certificate changed"
    if cert_fingerprint(on_disk_sealing) != facts.sealing_sha256:
        return f"{request.shown(SEALING_CERT_FILE)} does not match {CERT_FACTS_FILE}"
    dns_names = tuple(serving_dns_names(PROMETHEUS_ADAPTER, namespace))
    expected = (ADAPTER_SERVING_SECRET, namespace, PROMETHEUS_ADAPTER, dns_names)
    if (facts.secret_name, facts.namespace, facts.service, facts.dns_names) != expected:
        return f"the recorded Secret/namespace/DNS names differ from the cluster's (namespace {namespace})"
    if facts.scope != scope:
        return f"the scope changes from {facts.scope} to {scope}"
    if facts.key_type != key_type:
        return f"the key type changes from {facts.key_type} to {key_type}"
    metadata = sealed["metadata"]
    if (metadata["name"], metadata["namespace"]) != (ADAPTER_SERVING_SECRET, namespace) \
            or (metadata.get("annotations") or {}) != scope_annotations(scope) \
            or set(sealed["spec"]["encryptedData"]) != {SERVING_CERT_KEY, SERVING_KEY_KEY}:
        return f"{request.shown(ADAPTER_SEALED_SECRET_FILE)} does not match {CERT_FACTS_FILE}"
    return None


def plan_issue(request: IssueRequest) -> IssuePlan:
    """Decide what ``certs issue`` writes for ``request``: new key material and its files, or
    nothing when the current certificate is still good (unless ``force``). Pure: reads only
    ``request`` (the filesystem is the caller's job) and raises ``CertError`` on bad input.
    """
    name, namespace, now = request.cluster, request.namespace, request.now

    # Scope and key type default to what was issued before, so a bare re-run or --force renewal
    # keeps them; a malformed certs.yaml is an error unless --force replaces it anyway.
    previous: CertFacts | None = None
    if CERT_FACTS_FILE in request.existing:
        try:
            previous = parse_facts(request.existing[CERT_FACTS_FILE], request.shown(CERT_FACTS_FILE))
        except CertError:
            if not request.force:
                raise
    scope: Scope = request.scope or (previous.scope if previous else "strict")
    key_type: KeyType = request.key_type or (previous.key_type if previous and previous.key_type in KEY_TYPES
                                             else KEY_TYPES[0])

    lines: list[str] = []
    if previous is not None and not request.force:
        reason = _reissue_reason(request, previous, scope=scope, key_type=key_type)
        if reason is None:
            return IssuePlan(files=MappingProxyType({}), lines=(
                f"certs for cluster {name} are up to date: serving certificate valid until "
                f"{iso_utc(previous.serving_not_after)} ({previous.days_left(now)} days left); no file changed "
                "(use --force to re-issue)",
            ))
        lines.append(f"re-issuing certs for cluster {name}: {reason}")

    if request.ca is None:
        ca_cert, ca_key = new_ca(key_type, DEFAULT_CA_DAYS, f"promstack {name} prometheus-adapter CA", now=now)
    else:
        ca_cert, ca_key = request.ca
    serving_cert, serving_key = issue_serving_cert(
        ca_cert, ca_key, service=PROMETHEUS_ADAPTER, namespace=namespace, key_type=key_type, days=request.days,
        now=now,
    )
    manifest = sealed_secret_manifest(
        request.sealing_cert,
        name=ADAPTER_SERVING_SECRET,
        namespace=namespace,
        data={SERVING_CERT_KEY: cert_to_pem(serving_cert), SERVING_KEY_KEY: key_to_pem(serving_key)},
        scope=scope,
    )
    del serving_key  # sealed above; the only plaintext copy goes away with this process
    facts = CertFacts.from_certs(
        serving_cert=serving_cert, ca_cert=ca_cert, sealing_cert=request.sealing_cert,
        secret_name=ADAPTER_SERVING_SECRET, namespace=namespace, service=PROMETHEUS_ADAPTER, scope=scope,
    )

    ca_files: dict[str, bytes] = {}
    if request.ca_out is not None and request.ca is None:
        crt_name, key_name = ca_out_names(name)
        ca_files[key_name] = key_to_pem(ca_key)
        ca_files[crt_name] = cert_to_pem(ca_cert)
    files = {
        ADAPTER_SEALED_SECRET_FILE: dump_manifest(manifest, generated_by="promstack certs issue"),
        ADAPTER_CA_FILE: cert_to_pem(ca_cert),
        SEALING_CERT_FILE: cert_to_pem(request.sealing_cert),
        CERT_FACTS_FILE: dump_facts(facts),  # last: it vouches for the files above
    }

    lines += [
        f"issued serving certificate for {', '.join(facts.dns_names)}",
        f"  valid {iso_utc(facts.serving_not_before)} .. {iso_utc(facts.serving_not_after)}, "
        f"key {facts.key_type}, scope {scope}, sha256 {facts.serving_sha256}",
        f"  wrote {request.shown(ADAPTER_SEALED_SECRET_FILE)} (SealedSecret {namespace}/{ADAPTER_SERVING_SECRET})",
        f"  wrote {request.shown(ADAPTER_CA_FILE)} (CA certificate, sha256 {facts.ca_sha256})",
        f"  wrote {request.shown(SEALING_CERT_FILE)} (sealing certificate, sha256 {facts.sealing_sha256})",
        f"  wrote {request.shown(CERT_FACTS_FILE)} (public facts)",
    ]
    if ca_files:
        assert request.ca_out is not None
        crt_name, key_name = ca_out_names(name)
        lines.append(f"  wrote {request.ca_out / crt_name} and {request.ca_out / key_name} "
                     "(CA private key: keep it safe, never commit it)")
    elif request.ca is None:
        lines.append("  the CA private key was discarded (pass --ca-out DIR to keep it for renewals with the same CA)")
    return IssuePlan(files=MappingProxyType(files), lines=tuple(lines), ca_files=MappingProxyType(ca_files))


#: Files ``certs issue`` reads back from the cluster folder to decide whether to re-issue.
_ISSUED_FILES = (ADAPTER_SEALED_SECRET_FILE, ADAPTER_CA_FILE, SEALING_CERT_FILE, CERT_FACTS_FILE)


def _read_existing(folder: Path) -> dict[str, bytes]:
    """The current bytes of the files ``certs issue`` owns in ``folder``, by name; missing ones left out."""
    existing: dict[str, bytes] = {}
    for name in _ISSUED_FILES:
        path = folder / name
        if path.exists():
            try:
                existing[name] = path.read_bytes()
            except OSError as exc:
                raise CertError(_show(path), "", f"cannot read ({exc.strerror})",
                                "fix or remove it, then re-run with --force") from exc
    return existing


@_reports_errors
def cmd_certs_issue(args: argparse.Namespace) -> int:
    """Issue the adapter serving certificate for ``--cluster`` and write its four files (see module doc)."""
    now = datetime.now(UTC)
    cluster_dir = _cluster_dir(Path(args.clusters_dir), args.cluster)
    cluster = load_cluster(cluster_dir)
    repo_root = find_repo_root(cluster_dir) or Path(args.clusters_dir).resolve().parent

    if bool(args.ca_cert) != bool(args.ca_key):
        raise CertError("--ca-cert/--ca-key", "", "pass both or neither", "omit both to generate a new CA")
    ca_out: Path | None = None
    if args.ca_out:
        if args.ca_cert:
            raise CertError("--ca-out", "", "only applies to a CA generated by this command",
                            "drop --ca-out when passing --ca-cert/--ca-key")
        ca_out = _ca_out_folder(args.ca_out, repo_roots=(repo_root, find_repo_root(Path.cwd())))

    sealing_cert = _sealing_cert(args.sealing_cert, cluster_dir, now)
    ca: tuple[x509.Certificate, PrivateKey] | None = None
    if args.ca_cert:
        cert_pem, cert_src = _read_pem_arg(args.ca_cert)
        key_pem, key_src = _read_pem_arg(args.ca_key)
        ca = load_ca(cert_pem, key_pem, cert_source=cert_src, key_source=key_src, now=now)

    plan = plan_issue(IssueRequest(
        cluster=cluster_dir.name, namespace=cluster.namespace, sealing_cert=sealing_cert, now=now,
        existing=_read_existing(cluster_dir), ca=ca, scope=args.scope, key_type=args.key_type, days=args.days,
        renew_within=args.renew_within, force=args.force, ca_out=ca_out, shown_folder=_show(cluster_dir),
    ))
    if plan.changes_files:
        out: dict[Path, tuple[bytes, int]] = {}
        private: set[Path] = set()
        if ca_out is not None:
            for name, content in plan.ca_files.items():
                is_key = name.endswith(".key")
                if is_key:
                    private.add(ca_out / name)
                    if (ca_out / name).exists():
                        raise CertError(str(ca_out / name), "", "already exists; refusing to overwrite a CA key",
                                        "move it away or choose another --ca-out folder")
                out[ca_out / name] = (content, PRIVATE_MODE if is_key else PUBLIC_MODE)
        for name, content in plan.files.items():
            out[cluster_dir / name] = (content, PUBLIC_MODE)
        _check_pem_free(out, repo_root)
        write_files_atomically(out, create_only=private)
    for line in plan.lines:
        print(line)
    return 0


# --------------------------------------------------------------------------- certs check


def _check_cluster(cluster_dir: Path, *, min_days: int, now: datetime) -> tuple[str, list[Exception]]:
    """A one-line summary of the cluster's certificates and every problem found."""
    files = _ClusterFiles(cluster_dir)
    renew = f"run `promstack certs issue --cluster {cluster_dir.name} --force`"
    try:
        facts = read_facts(files.facts)
    except CertError as exc:
        return "certs.yaml unreadable", [exc]
    problems: list[Exception] = []
    facts_src = _show(files.facts)

    left = facts.days_left(now)
    if left < min_days:
        problems.append(CertError(facts_src, "servingCert.notAfter",
                                  f"the serving certificate expires in {left} days (minimum {min_days})", renew))
    ca_left = (facts.ca_not_after - now).days
    if ca_left < min_days:
        problems.append(CertError(facts_src, "caCert.notAfter",
                                  f"the CA expires in {ca_left} days (minimum {min_days})",
                                  f"{renew} (without --ca-cert, to get a new CA)"))
    if facts.sealing_not_after < now:
        problems.append(CertError(facts_src, "sealingCert.notAfter",
                                  f"the recorded sealing certificate expired on {iso_utc(facts.sealing_not_after)}",
                                  FETCH_CERT_FIX))

    if not files.ca.exists():
        problems.append(CertError(_show(files.ca), "", "missing", renew))
    else:
        try:
            ca_fp = cert_fingerprint(load_cert_pem(files.ca.read_bytes(), _show(files.ca)))
            if ca_fp != facts.ca_sha256:
                problems.append(CertError(_show(files.ca), "sha256",
                                          f"{ca_fp} does not match caCert.sha256 {facts.ca_sha256} in {facts_src}",
                                          renew))
        except CertError as exc:
            problems.append(exc)

    if not files.sealing.exists():
        problems.append(CertError(_show(files.sealing), "", "missing", f"{renew} --sealing-cert PEM"))
    else:
        try:
            sealing = load_sealing_cert(files.sealing.read_bytes(), _show(files.sealing), now=now)
            sealing_fp = cert_fingerprint(sealing)
            if sealing_fp != facts.sealing_sha256:
                problems.append(CertError(_show(files.sealing), "sha256",
                                          f"{sealing_fp} does not match sealingCert.sha256 {facts.sealing_sha256} "
                                          f"in {facts_src}", f"{renew} --sealing-cert PEM"))
        except CertError as exc:
            problems.append(exc)

    try:
        sealed = read_sealed_secret(files.sealed)
        meta = sealed["metadata"]
        if (meta["name"], meta["namespace"]) != (facts.secret_name, facts.namespace):
            problems.append(CertError(_show(files.sealed), "metadata",
                                      f"{meta['namespace']}/{meta['name']} does not match {facts_src} "
                                      f"({facts.namespace}/{facts.secret_name})", renew))
        if (meta.get("annotations") or {}) != scope_annotations(facts.scope):
            problems.append(CertError(_show(files.sealed), "metadata.annotations",
                                      f"the scope annotations do not say {facts.scope}, the scope it was sealed with "
                                      "(the controller would use the wrong label and fail to unseal)", renew))
    except CertError as exc:
        problems.append(exc)

    try:
        namespace = load_cluster(cluster_dir).namespace
        if namespace != facts.namespace:
            problems.append(CertError(facts_src, "namespace",
                                      f"certificates were issued for namespace {facts.namespace}, "
                                      f"but the cluster now uses {namespace}", renew))
    except ConfigError as exc:
        problems.append(exc)

    summary = (f"serving cert notAfter {iso_utc(facts.serving_not_after)} ({left} days left), "
               f"sealing cert sha256 {facts.sealing_sha256}")
    return summary, problems


@_reports_errors
def cmd_certs_check(args: argparse.Namespace) -> int:
    """Check recorded certificates; exit 1 if any cluster has a problem (see ``--min-days``), else 0."""
    now = datetime.now(UTC)
    clusters_dir = Path(args.clusters_dir)
    if args.cluster:
        folders = [_cluster_dir(clusters_dir, args.cluster)]
    elif clusters_dir.is_dir():
        folders = sorted(p for p in clusters_dir.iterdir() if p.is_dir())
    else:
        raise CertError(_show(clusters_dir), "", "no such folder",
                        "run from the repository root or pass --clusters-dir")

    failed = 0
    for folder in folders:
        if not (folder / CERT_FACTS_FILE).exists():
            if args.cluster:  # asked about this one specifically: missing certs is a failure
                print(f"promstack: error: {_show(folder / CERT_FACTS_FILE)}: missing; "
                      f"run `promstack certs issue --cluster {folder.name} --sealing-cert PEM`", file=sys.stderr)
                failed += 1
            else:
                print(f"{folder.name}: no {CERT_FACTS_FILE}, skipped")
            continue
        summary, problems = _check_cluster(folder, min_days=args.min_days, now=now)
        print(f"{folder.name}: {summary}: {'FAILED' if problems else 'ok'}")
        for problem in problems:
            _print_errors(problem)
        failed += bool(problems)
    return 1 if failed else 0


# --------------------------------------------------------------------------- seal


def _check_secret_key(flag: str, key: str) -> None:
    """Refuse a key the API server would refuse (``IsConfigMapKey``), before anything is sealed."""
    fix = f"use e.g. {flag} api-token=..."
    if not _SECRET_KEY.fullmatch(key):
        raise CertError(flag, key, "a Secret key may contain only letters, digits, '-', '_' and '.'", fix)
    if key in (".", "..") or key.startswith(".."):
        raise CertError(flag, key, "a Secret key may not be '.' or '..' or start with '..'", fix)
    if len(key) > MAX_NAME_LENGTH:
        raise CertError(flag, key, f"a Secret key is at most {MAX_NAME_LENGTH} characters, this one {len(key)}", fix)


_FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _read_value_file(path_text: str, key: str) -> bytes:
    """The bytes of a regular file of at most ``MAX_SECRET_BYTES``.

    Opened without blocking (a named pipe with no writer would hang ``open``) and checked with
    ``fstat`` on the open file, so a swapped symlink cannot slip a device past the check; read
    with a cap, so ``/dev/zero`` or a growing file cannot fill memory.
    """
    fix = "check the --from-file path"
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path_text, flags)
    except OSError as exc:
        raise CertError(path_text, "", f"cannot read ({exc.strerror})", fix) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise CertError(path_text, "", f"is {kind}; --from-file reads only regular files",
                            "write the value to a file first and pass that file")
        chunks, size = [], 0
        while size <= MAX_SECRET_BYTES:
            chunk = os.read(fd, min(1 << 16, MAX_SECRET_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise CertError(path_text, "", f"cannot read ({exc.strerror})", fix) from exc
    finally:
        os.close(fd)
    if size > MAX_SECRET_BYTES:
        raise CertError(path_text, "", f"is larger than {MAX_SECRET_BYTES} bytes (1 MiB), the most a Secret holds",
                        f"seal a smaller value for key {clip(key)}")
    return b"".join(chunks)


def _secret_data(literals: list[str], file_args: list[str]) -> dict[str, bytes]:
    """``--from-literal k=v`` and ``--from-file [k=]path`` as Secret data, validated like the API server:
    keys (``IsConfigMapKey``), UTF-8 literals, regular files only, at most 1 MiB in all."""
    data: dict[str, bytes] = {}

    def add(flag: str, key: str, value: bytes) -> None:
        if key in data:
            raise CertError(flag, key, "given more than once", "pass each key once")
        data[key] = value
        total = sum(len(v) for v in data.values())
        if total > MAX_SECRET_BYTES:
            raise CertError(flag, key, f"the values add up to {total} bytes; a Secret holds at most "
                            f"{MAX_SECRET_BYTES} (1 MiB)", "split them into several Secrets")

    for item in literals:
        key, sep, value = item.partition("=")
        if not sep:
            # Not echoed: a value typed without its key is likely the secret itself.
            raise CertError("--from-literal", "", "expected KEY=VALUE, got no '='", "e.g. --from-literal password=...")
        _check_secret_key("--from-literal", key)
        try:
            encoded = value.encode()
        except UnicodeEncodeError as exc:  # argv bytes that were not UTF-8 (decoded with surrogateescape)
            raise CertError("--from-literal", key, f"the value is not valid UTF-8 (byte {exc.start})",
                            f"write it to a file and pass --from-file {clip(key)}=PATH") from exc
        add("--from-literal", key, encoded)
    for item in file_args:
        key, sep, path_text = item.partition("=")
        if not sep:
            key, path_text = Path(item).name, item
        _check_secret_key("--from-file", key)
        add("--from-file", key, _read_value_file(path_text, key))
    return data


@_reports_errors
def cmd_seal(args: argparse.Namespace) -> int:
    """Seal ``--from-literal``/``--from-file`` values into ``clusters/NAME/<SECRET>.sealedsecret.yaml``."""
    now = datetime.now(UTC)
    cluster_dir = _cluster_dir(Path(args.clusters_dir), args.cluster)
    namespace: str = load_cluster(cluster_dir).namespace
    name: str = args.name
    if len(name) > MAX_NAME_LENGTH or not _DNS_SUBDOMAIN.fullmatch(name):
        raise CertError("--name", name, f"not a valid Secret name (lowercase letters, digits, '-' and '.', "
                        f"at most {MAX_NAME_LENGTH} characters)", "e.g. --name grafana-admin")
    if len(name) > MAX_SEALED_NAME_LENGTH:
        raise CertError("--name", name, f"is {len(name)} characters; its file {SEALED_SECRET_SUFFIX} would exceed "
                        f"the 255-byte file name limit", f"use a name of at most {MAX_SEALED_NAME_LENGTH} characters")
    out = cluster_dir / f"{name}{SEALED_SECRET_SUFFIX}"
    if name == ADAPTER_SERVING_SECRET or out.name == ADAPTER_SEALED_SECRET_FILE:
        raise CertError("--name", name, "is managed by `promstack certs issue`", "use `promstack certs issue --force`")
    if not args.secret_type:
        raise CertError("--type", "", "must not be empty", "e.g. --type Opaque")
    if len(args.secret_type) > 253 or not SECRET_TYPE.fullmatch(args.secret_type):
        raise CertError("--type", clip(args.secret_type), "is not a Secret type",
                        "use Opaque, kubernetes.io/tls or another <domain>/<name> type")

    if args.from_literal:
        print("promstack: warning: --from-literal values end up in your shell history; prefer --from-file",
              file=sys.stderr)
    data = _secret_data(args.from_literal, args.from_file)
    if not data:
        raise CertError("seal", "", "no values given", "pass --from-file KEY=PATH or --from-literal KEY=VALUE")
    if args.secret_type == "kubernetes.io/tls" and not {"tls.crt", "tls.key"} <= set(data):
        raise CertError("--type", "kubernetes.io/tls", "needs the keys tls.crt and tls.key",
                        "name the keys tls.crt/tls.key, or use --type Opaque")

    sealing_cert = _sealing_cert(args.sealing_cert, cluster_dir, now)
    manifest = sealed_secret_manifest(
        sealing_cert, name=name, namespace=namespace, data=data, scope=args.scope, secret_type=args.secret_type,
    )
    existed = out.exists()
    write_files_atomically({out: (dump_manifest(manifest, generated_by="promstack seal"), PUBLIC_MODE)})
    print(f"{'replaced' if existed else 'wrote'} {_show(out)} (SealedSecret {namespace}/{name}, scope {args.scope}, "
          f"keys {', '.join(sorted(data))}; sealing cert sha256 {cert_fingerprint(sealing_cert)})")
    return 0
