"""cdk8s app entry point: `cdk8s synth` runs this (see cdk8s.yaml)."""

import os
from pathlib import Path

from promstack.cli import run_synth

if __name__ == "__main__":
    # Relative to where cdk8s runs (the project), so errors name clusters/<name>/cluster.yaml.
    raise SystemExit(run_synth(Path(os.path.relpath(Path(__file__).parent / "clusters"))))
