"""cdk8s app entry point: `cdk8s synth` runs this (see cdk8s.yaml)."""

from pathlib import Path

from promstack.cli import run_synth

if __name__ == "__main__":
    raise SystemExit(run_synth(Path(__file__).parent / "clusters"))
