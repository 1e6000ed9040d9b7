"""Policy: plaintext Secrets, private keys, container hardening, host access, RBAC wildcards."""

from __future__ import annotations

import base64
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import ROOT
from promstack.validate import Finding, validate_paths
from promstack.validate.k8s import parse_quantity
from promstack.validate.policy import image_error

FIX = Path(__file__).parent / "fixtures"
C0 = "spec.template.spec.containers[0]"
# Built at run time so that no file of the repository holds a PEM private-key header.
PEM_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"
PEM_KEY = (
    f"{PEM_HEADER}\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----\n"
)


def run(name: str) -> list[Finding]:
    return validate_paths([FIX / name], run_promtool=False)


def policy(name: str, kind: str, ns: str, obj: str, path: str, message: str) -> Finding:
    return Finding(str(FIX / name / "manifests.yaml"), kind, ns, obj, path, message, "policy")


AS_VALUE = "remove it, the process would receive it as part of the value"
REJECTED = "the API server rejects the pod; lower the request or raise the limit"
BY_HAND = "skips come from declared exceptions, never by hand"
DIGEST_FIX = "write @sha256: and the 64 lowercase hex digits the registry reports"
HOST = "without an exception: annotate the pod template with hardening.promstack.io/"
CASES = {
    "policy-secret-data": [
        ("Secret", "demo", "web-token", "stringData", "Secret carries data in the output: use a SealedSecret")
    ],
    "policy-image-pinned": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.image",
            "image 'example.invalid/web:latest' uses the latest tag: pin a version or digest",
        ),
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.initContainers[0].image",
            "image 'example.invalid/init' has no tag or digest: pin a version",
        ),
    ],
    "policy-image-digest": [
        ("Deployment", "demo", "web", f"{C0}.image",
         f"image 'example.invalid/web:1.2.3@sha256:abc' has a malformed digest: {DIGEST_FIX}"),
        ("Deployment", "demo", "web", "spec.template.spec.containers[1].image",
         f"image 'example.invalid/web:1.2.3@sha256:{'A' * 43}... has a malformed digest: {DIGEST_FIX}"),
        ("Deployment", "demo", "web", "spec.template.spec.containers[2].image",
         f"image 'example.invalid/web@md5:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' has a malformed digest: {DIGEST_FIX}"),
        ("Deployment", "demo", "web", "spec.template.spec.initContainers[0].image",
         f"image 'example.invalid/init:1.0@sha256:{'a' * 44}... has more than one '@'"),
    ],
    "policy-checkov-skip": [
        ("Role", "demo", "web", 'metadata.annotations["bridgecrew.io/skip1"]',
         f"checkov skip of CKV2_K8S_5 without a hardening.promstack.io/rbacWildcard exception with the same reason: "
         f"{BY_HAND}"),
        ("Role", "demo", "web", 'metadata.annotations["checkov.io/skip2"]',
         f"checkov skip of CKV_K8S_38 without a hardening.promstack.io/serviceAccountToken exception with the same "
         f"reason: {BY_HAND}"),
        ("Role", "demo", "web", 'metadata.annotations["checkov.io/skip3"]',
         f"checkov skip of CKV_K8S_99 without an exception topic for it in promstack/config/hardening.py: {BY_HAND}"),
        ("Role", "demo", "web", 'metadata.annotations["checkov.io/skip4"]',
         'checkov skip "CKV_K8S_49" is not <check id>=<reason>'),
        ("Role", "demo", "web", 'metadata.annotations["hardening.promstack.io/ownWish"]',
         "unknown hardening exception 'ownWish' (known: hostNetwork, hostPID, hostIPC, hostPath, imagePullPolicy, "
         "imageDigest, serviceAccountToken, runAsUser, rbacWildcard)"),
    ],
    "policy-pull-policy": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.imagePullPolicy",
            "imagePullPolicy 'Always': must be IfNotPresent or Never",
        ),
    ],
    "policy-resources": [
        ("Deployment", "demo", "web", f"{C0}.resources.limits.memory", "no memory limit"),
        ("Deployment", "demo", "web", f"{C0}.resources.requests.cpu", "no cpu request"),
    ],
    "policy-run-as-non-root": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.securityContext.runAsNonRoot",
            "runAsNonRoot is not true (set it on the container or the pod)",
        ),
    ],
    "policy-read-only-root": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.securityContext.readOnlyRootFilesystem",
            "readOnlyRootFilesystem is not true",
        ),
    ],
    "policy-privilege-escalation": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.securityContext.allowPrivilegeEscalation",
            "allowPrivilegeEscalation is not false",
        ),
    ],
    "policy-capabilities": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.securityContext.capabilities.drop",
            "capabilities.drop does not contain ALL",
        ),
    ],
    "policy-seccomp": [
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.securityContext.seccompProfile.type",
            "seccompProfile.type is not RuntimeDefault (set it on the container or the pod)",
        ),
    ],
    "policy-privileged": [
        ("Deployment", "demo", "web", f"{C0}.securityContext.privileged", "privileged container"),
    ],
    "policy-host-network": [
        ("Deployment", "demo", "web", "spec.template.spec.hostNetwork", f"hostNetwork {HOST}hostNetwork: <reason>"),
    ],
    "policy-host-path": [
        (
            "Deployment",
            "demo",
            "web",
            "spec.template.spec.volumes[0].hostPath",
            f"hostPath volume {HOST}hostPath: <reason>",
        ),
    ],
    "policy-host-exception-empty": [
        (
            "Deployment",
            "demo",
            "web",
            'spec.template.metadata.annotations["hardening.promstack.io/hostPID"]',
            "hardening exception with an empty reason",
        ),
        ("Deployment", "demo", "web", "spec.template.spec.hostPID", f"hostPID {HOST}hostPID: <reason>"),
    ],
    "policy-rbac-wildcard": [
        ("Role", "demo", "web", "rules[0].resources[0]", "wildcard resource '*': list what is needed"),
        ("Role", "demo", "web", "rules[0].verbs[1]", "wildcard verb '*': list what is needed"),
    ],
    # A flag or one-line value with a newline, tab or spaces around it; a carriage return or NUL
    # anywhere. The init container's multi-line script keeps its newlines.
    "policy-arguments": [
        ("Deployment", "demo", "web", f"{C0}.args[0]",
         f'argument "--storage.tsdb.retention.time=15d\\n" holds a newline: {AS_VALUE}'),
        ("Deployment", "demo", "web", f"{C0}.args[2]",
         f'argument "/etc/prometheus/prometheus.yml " has leading or trailing whitespace: {AS_VALUE}'),
        ("Deployment", "demo", "web", f"{C0}.args[3]",
         f'argument " --web.enable-lifecycle" has leading or trailing whitespace: {AS_VALUE}'),
        ("Deployment", "demo", "web", f"{C0}.args[4]", f'argument "--web.route-prefix=/\\t" holds a tab: {AS_VALUE}'),
        ("Deployment", "demo", "web", f"{C0}.command[0]",
         'argument "/bin/prometheus\\u0000" holds a NUL byte: remove it'),
        ("Deployment", "demo", "web", f"{C0}.image", 'image "example.invalid/web:1.2.3\\n" holds a newline: remove it'),
        ("Deployment", "demo", "web", "spec.template.spec.initContainers[0].args[1]",
         'argument "set -e\\r\\necho ready\\r\\n" holds a carriage return: remove it'),
    ],
    # Compared as quantities: "1" > "500m" and "2e9" > "1Gi" although they sort before them;
    # the init container's "512Mi" <= "1Gi" and "1000m" == "1" although they sort after.
    "policy-requests-above-limits": [
        (
            "CronJob",
            "demo",
            "report",
            "spec.jobTemplate.spec.template.spec.initContainers[0].resources.requests.cpu",
            f'cpu request 0.5 is above its limit "250m": {REJECTED}',
        ),
        (
            "CronJob",
            "demo",
            "report",
            "spec.jobTemplate.spec.template.spec.initContainers[0].resources.requests.ephemeral-storage",
            f'ephemeral-storage request "2Gi" is above its limit "1Gi": {REJECTED}',
        ),
        ("Deployment", "demo", "web", f"{C0}.resources.requests.cpu",
         f'cpu request "1" is above its limit "500m": {REJECTED}'),
        (
            "Deployment",
            "demo",
            "web",
            f"{C0}.resources.requests.memory",
            f'memory request "2e9" is above its limit "1Gi": {REJECTED}',
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_policy_rule(name: str) -> None:
    assert run(name) == [policy(name, *case) for case in CASES[name]]


def test_declared_host_exceptions_are_accepted() -> None:
    """The good set's DaemonSet uses hostNetwork, hostPID and hostPath, each with a reason."""
    assert run("good") == []


@pytest.mark.parametrize(
    ("image", "error"),
    [
        ("example.invalid/web:1.2.3", None),
        ("example.invalid:5000/web", "image 'example.invalid:5000/web' has no tag or digest: pin a version"),
        ("example.invalid/web@sha256:" + "a" * 64, None),
        ("example.invalid/web@sha256:abc",
         f"image 'example.invalid/web@sha256:abc' has a malformed digest: {DIGEST_FIX}"),
        ("example.invalid/web:1.2@sha256:" + "a" * 64, None),
        ("busybox:1.37", None),
        ("localhost:5000/web:1.0", None),
        ("example.invalid/Web:1.0",
         "image 'example.invalid/Web:1.0' has a malformed repository name: lowercase path parts after an optional "
         "registry host"),
        ("example.invalid/web:1.0@sha256:" + "a" * 63 + "g",
         f"image 'example.invalid/web:1.0@sha256:{'a' * 45}... has a malformed digest: {DIGEST_FIX}"),
    ],
)
def test_image_pinning(image: str, error: str | None) -> None:
    assert image_error(image) == error


def test_private_key_in_a_manifest(tmp_path: Path) -> None:
    body = "\n".join("    " + line for line in PEM_KEY.splitlines())
    (tmp_path / "key.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n  namespace: demo\ndata:\n  key.pem: |\n"
        + body
        + "\n"
    )
    assert validate_paths([tmp_path], run_promtool=False) == [
        Finding(
            str(tmp_path / "key.yaml"),
            "",
            "",
            "",
            "line 8",
            "private key material (RSA PRIVATE KEY PEM block)",
            "policy",
        ),
    ]


def test_base64_private_key_in_a_sealed_secret_template(tmp_path: Path) -> None:
    encoded = base64.b64encode(PEM_KEY.encode()).decode()
    (tmp_path / "s.yaml").write_text(
        f"# tls.key: {encoded}\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
    )
    assert [f.message for f in validate_paths([tmp_path], run_promtool=False)] == [
        "private key material (base64-encoded RSA PRIVATE KEY PEM block)"
    ]


def test_a_header_alone_is_not_key_material(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(
        f"# checks for '{PEM_HEADER}' lines\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
    )
    assert validate_paths([tmp_path], run_promtool=False) == []


def test_tracked_files_are_scanned(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "dist").mkdir(parents=True)
    (repo / "dist" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n")
    (repo / "notes.txt").write_text(PEM_KEY)
    (repo / "untracked.txt").write_text(PEM_KEY)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "dist/ns.yaml", "notes.txt"], check=True)
    assert validate_paths([repo / "dist"], run_promtool=False) == []
    assert validate_paths([repo / "dist"], run_promtool=False, tracked_repo=repo) == [
        Finding(
            str(repo / "notes.txt"), "", "", "", "line 1", "private key material (RSA PRIVATE KEY PEM block)", "policy"
        ),
    ]


def test_the_repository_has_no_private_key() -> None:
    """What `promstack validate --tracked` checks in make test, on this repository's tracked files."""
    from promstack.validate.policy import scan_private_keys, tracked_files

    root = ROOT
    assert scan_private_keys(tracked_files(root)) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", "0.25"), ("1Gi", "1073741824"), ("1", "1"), (".5", "0.5"), ("1.", "1"), ("1e3", "1000"),
        ("1E3", "1000"), ("1E", "1e18"), ("+1Ki", "1024"), ("-2", "-2"), ("5n", "5e-9"), ("1k", "1000"),
        (2, "2"), (0.25, "0.25"),
        ("100m\n", None), (" 1", None), ("1Gb", None), ("1K", None), ("1e", None), ("", None),
        (True, None), (float("nan"), None), (float("inf"), None), ([1], None),
    ],
)
def test_quantities_parse_exactly(text: object, value: str | None) -> None:
    if value is None:
        assert parse_quantity(text) is None
    else:
        assert parse_quantity(text) == Decimal(value)


def test_configmap_and_secret_data_over_1_mib(tmp_path: Path) -> None:
    # The API server refuses a ConfigMap or Secret holding more than 1 MiB of data (decoded).
    mib = 1024 * 1024
    docs = [
        ("ConfigMap", "over", f'data:\n  a: "{"x" * mib}"\nbinaryData:\n  b: {base64.b64encode(b"y").decode()}\n'),
        ("ConfigMap", "exactly",
         f'data:\n  a: "{"x" * (mib - 3)}"\nbinaryData:\n  b: {base64.b64encode(b"yyy").decode()}\n'),
        # stringData's key "a" replaces data's "a": 600 KiB + 500 KiB, not 600 KiB + 600 KiB + 500 KiB
        ("Secret", "merged", f"data:\n  a: {base64.b64encode(b'z' * (600 * 1024)).decode()}\n"
                             f"  b: {base64.b64encode(b'z' * (600 * 1024)).decode()}\n"
                             f'stringData:\n  a: "{"w" * (500 * 1024)}"\n'),
    ]
    (tmp_path / "m.yaml").write_text("---\n".join(
        f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: demo}}\n{body}"
        for kind, name, body in docs
    ))
    sized = [f for f in validate_paths([tmp_path], run_promtool=False) if "bytes of data" in f.message]
    accepts = "the API server accepts: split it or ship the content another way"
    assert sized == [
        Finding(str(tmp_path / "m.yaml"), "ConfigMap", "demo", "over", "data",
                f"ConfigMap holds 1048577 bytes of data, over the 1048576 (1 MiB) {accepts}", "policy"),
        Finding(str(tmp_path / "m.yaml"), "Secret", "demo", "merged", "data",
                f"Secret holds 1126400 bytes of data, over the 1048576 (1 MiB) {accepts}", "policy"),
    ]
