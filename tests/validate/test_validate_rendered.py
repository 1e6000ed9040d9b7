"""The validation gate over what synth renders, and the provenance of the vendored CRD schemas."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import ROOT
from promstack.validate import validate_paths
from promstack.validate.crds import VENDOR_DIR, vendor

CRDS = ROOT / "crds"


def test_a_fresh_synth_passes_the_gate(out_dir: Path) -> None:
    findings = validate_paths([out_dir])
    assert not findings, "\n".join(str(f) for f in findings)


def test_vendored_crd_schemas_are_the_upstream_files_unchanged(tmp_path: Path) -> None:
    # crds/ holds the upstream CRDs at the releases its SOURCES.md names; the converted schemas
    # the gate ships must be exactly what the converter makes of them.
    for committed in sorted(VENDOR_DIR.glob("*.json")):
        record = json.loads(committed.read_text())
        upstream = CRDS / record["source"]
        assert hashlib.sha256(upstream.read_bytes()).hexdigest() == record["sha256"], committed.name
        [regenerated] = vendor([upstream], tmp_path)
        assert regenerated.read_bytes() == committed.read_bytes(), f"{committed.name} differs from its upstream CRD"


def test_vendored_crds_have_the_recorded_upstream_checksums() -> None:
    recorded = dict(line.split()[::-1] for line in (CRDS / "SOURCES.md").read_text().splitlines()
                    if len(line.split()) == 2 and len(line.split()[0]) == 64)
    files = sorted(p.name for p in CRDS.glob("*.yaml"))
    assert sorted(recorded) == files, "crds/SOURCES.md must list every vendored CRD file"
    for name in files:
        assert hashlib.sha256((CRDS / name).read_bytes()).hexdigest() == recorded[name], name
