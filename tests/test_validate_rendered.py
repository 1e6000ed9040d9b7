"""The validation gate over what synth renders, and the provenance of the vendored CRD schemas."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import ROOT
from promstack.validate import validate_paths
from promstack.validate.crds import VENDOR_DIR, vendor

SHARED_CRDS = ROOT.parent / "shared" / "crds"


def test_a_fresh_synth_passes_the_gate(out_dir: Path) -> None:
    findings = validate_paths([out_dir])
    assert not findings, "\n".join(str(f) for f in findings)


def test_vendored_crd_schemas_are_the_upstream_files_unchanged(tmp_path: Path) -> None:
    # ../shared/crds holds the upstream CRDs at the releases SOURCES.md names; CI has it beside
    # the clone. The vendored copies must be exactly what the converter makes of them.
    assert SHARED_CRDS.is_dir(), f"{SHARED_CRDS} is missing: clone next to the shared/ folder"
    for committed in sorted(VENDOR_DIR.glob("*.json")):
        record = json.loads(committed.read_text())
        upstream = SHARED_CRDS / record["source"]
        assert hashlib.sha256(upstream.read_bytes()).hexdigest() == record["sha256"], committed.name
        [regenerated] = vendor([upstream], tmp_path)
        assert regenerated.read_bytes() == committed.read_bytes(), f"{committed.name} differs from its upstream CRD"
