"""Hardening exceptions: one declaration per exception yields the reviewer's annotation and checkov's skip."""

from __future__ import annotations

from typing import Any

import cdk8s
import pytest

from conftest import Rendered, iter_pod_specs
from promstack.components.base import Component, StackContext, hardened_container
from promstack.config import hardening
from promstack.config.cluster import KUBE_STATE_METRICS_RESOURCES
from promstack.config.versions import Image

DIGEST = "sha256:" + "ab" * 32


def test_every_checkov_skip_in_dist_comes_from_a_declared_exception_with_its_reason(
        rendered: list[Rendered]) -> None:
    problems, skipped = [], 0
    for r in rendered:
        annotations = r.obj["metadata"].get("annotations", {})
        skips = {k: v for k, v in annotations.items() if k.startswith(hardening.CHECKOV_SKIP)}
        assert skips == hardening.checkov_annotations(r.obj), f"{r}: skips differ from its declared exceptions"
        skipped += len(skips)
        template = r.obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        declared = hardening.declared({**annotations, **template})
        for value in skips.values():
            check, reason = value.split("=")
            if not any(check in hardening.TOPICS[t] and declared[t] == reason for t in declared):
                problems.append(f"{r}: {value}")
    assert not problems, "\n".join(problems)
    assert skipped, "no checkov skip rendered at all"


def test_node_exporters_host_access_answers_checkovs_host_checks(rendered: list[Rendered]) -> None:
    [daemon_set] = [r.obj for r in rendered if r.cluster == "demo" and r.kind == "DaemonSet"]
    skips = {v.split("=")[0]: v.split("=")[1] for k, v in daemon_set["metadata"]["annotations"].items()
             if k.startswith(hardening.CHECKOV_SKIP)}
    declared = daemon_set["spec"]["template"]["metadata"]["annotations"]
    assert skips["CKV_K8S_19"] == skips["CKV_K8S_26"] == declared["hardening.promstack.io/hostNetwork"]
    assert skips["CKV_K8S_17"] == declared["hardening.promstack.io/hostPID"]


def test_pods_that_mount_a_token_say_why(rendered: list[Rendered]) -> None:
    for r, template in iter_pod_specs(rendered):
        reason = template["metadata"].get("annotations", {}).get("hardening.promstack.io/serviceAccountToken")
        assert bool(reason) == template["spec"]["automountServiceAccountToken"], f"{r}: token without a reason"


def test_checkov_skips_are_numbered_in_check_order() -> None:
    obj = {"kind": "Deployment", "metadata": {"annotations": {"hardening.promstack.io/rbacWildcard": "open set"}},
           "spec": {"template": {"metadata": {"annotations": {"hardening.promstack.io/hostNetwork": "host NICs",
                                                              "hardening.promstack.io/hostPath": "reads /proc"}}}}}
    assert hardening.checkov_annotations(obj) == {
        "checkov.io/skip1": "CKV2_K8S_5=open set",
        "checkov.io/skip2": "CKV_K8S_19=host NICs",
        "checkov.io/skip3": "CKV_K8S_26=host NICs",
        "checkov.io/skip4": "CKV_K8S_49=open set",
    }


@pytest.mark.parametrize(("exceptions", "error"), [
    ({"hostNetwrk": "typo"}, "unknown hardening exception 'hostNetwrk'"),
    ({"hostNetwork": " "}, "give a one-line reason without '='"),
    ({"hostNetwork": "a=b"}, "give a one-line reason without '='"),
])
def test_a_bad_declaration_fails_at_build_time(exceptions: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        hardening.exception_annotations(exceptions)


def _pod(image: Image, **kwargs: Any) -> dict[str, Any]:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    component = Component(chart, "web", context=StackContext(), component="test", image=image)
    container = hardened_container(name="web", image=image, resources=KUBE_STATE_METRICS_RESOURCES)
    template = component.pod_template(containers=[container], **kwargs)
    assert template.metadata is not None
    return dict(template.metadata.annotations or {})


def test_a_digest_pinned_image_needs_no_digest_exception() -> None:
    assert "hardening.promstack.io/imageDigest" in _pod(Image("example.invalid/web", "1.0"))
    pinned = _pod(Image("example.invalid/web", "1.0", DIGEST))
    assert "hardening.promstack.io/imageDigest" not in pinned
    assert "hardening.promstack.io/imagePullPolicy" in pinned


def test_a_token_or_a_low_uid_needs_a_declared_reason() -> None:
    image = Image("example.invalid/web", "1.0")
    with pytest.raises(ValueError, match="automount_token needs exceptions\\['serviceAccountToken'\\]"):
        _pod(image, automount_token=True)
    with pytest.raises(ValueError, match="run_as_user 472 is below 10000"):
        _pod(image, run_as_user=472)
    annotations = _pod(image, automount_token=True, run_as_user=472,
                       exceptions={"serviceAccountToken": "calls the API", "runAsUser": "the image's uid"})
    assert annotations["hardening.promstack.io/serviceAccountToken"] == "calls the API"
    assert annotations["hardening.promstack.io/runAsUser"] == "the image's uid"
