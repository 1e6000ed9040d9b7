"""checkov over every cluster folder of dist/: no failed check, every skip a declared exception.

A failed check is fixed in the manifests, or declared as an exception with its reason in
promstack/config/hardening.py (which renders checkov's skip annotation); never skipped by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DIST, ROOT
from promstack.config import hardening
from promstack.validate.checkov import CHECKOV, Scan, object_name, parse, scan

CLUSTERS = sorted(p.name for p in (DIST / "clusters").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def scans() -> dict[str, Scan]:
    """One checkov run per cluster folder, side by side."""
    return {result.folder.name: result for result in scan([DIST / "clusters" / c for c in CLUSTERS], ROOT / CHECKOV)}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_no_check_fails(scans: dict[str, Scan], cluster: str) -> None:
    failures = [f"{c.file}: {c.object}: {c.check_id} {c.name}" for c in scans[cluster].failed]
    assert not failures, (
        f"checkov finds in dist/clusters/{cluster}:\n" + "\n".join(failures)
        + "\nfix the manifests, or declare an exception with its reason in promstack/config/hardening.py")


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_skip_is_a_declared_exception_with_its_reason(scans: dict[str, Scan], cluster: str) -> None:
    skipped = scans[cluster].skipped
    assert skipped, f"{cluster}: checkov reports no skip, so it did not read the skip annotations"
    for c in skipped:
        topics = [t for t, checks in hardening.TOPICS.items() if c.check_id in checks]
        assert topics, f"{cluster}: {c.object}: {c.check_id} skipped without an exception topic"
        assert c.reason.strip(), f"{cluster}: {c.object}: {c.check_id} skipped without a reason"


def test_resource_ids_read_back_as_objects() -> None:
    assert object_name("Deployment.monitoring.grafana") == "Deployment/monitoring/grafana"
    assert object_name("ClusterRole.default.monitoring-ksm") == "ClusterRole/monitoring-ksm"
    assert object_name("Pod.monitoring.grafana.app.kubernetes.io/component-dashboards.app.kubernetes.io/name-grafana"
                       ) == "Pod/monitoring/grafana"


def test_a_templates_pod_is_counted_as_its_workload() -> None:
    def result(check: str, resource: str) -> dict[str, object]:
        return {"check_id": check, "check_name": check, "resource": resource, "file_path": "/grafana.yaml",
                "check_result": {"result": "FAILED"}}

    output = json.dumps({"results": {
        "failed_checks": [result("CKV2_K8S_6", "Pod.monitoring.grafana.app.kubernetes.io/name-grafana"),
                          result("CKV_K8S_35", "Deployment.monitoring.grafana")],
        "passed_checks": [], "skipped_checks": []}, "summary": {"passed": 3}})
    parsed = parse(output, Path("demo"))
    assert [(c.object, c.check_id) for c in parsed.failed] == [
        ("Deployment/monitoring/grafana", "CKV2_K8S_6"), ("Deployment/monitoring/grafana", "CKV_K8S_35")]
    assert parsed.passed == 3
