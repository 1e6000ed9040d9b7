"""cdk8s app entry point: `cdk8s synth` runs this (see cdk8s.yaml).

The CLI empties its output folder before it runs the app, so cdk8s.yaml points it at a scratch
folder under .build/. When the output folder is under .build/ (plain `cdk8s synth`, `make synth`)
this renders dist/, swapped in only if the whole run succeeded, and copies it into the output
folder for the CLI's listing. Any other output folder (`--output DIR`, `--stdout`) gets the render
itself, as with any cdk8s app. Either way through promstack.cli.run_synth, as `promstack synth`.
"""

import os
from pathlib import Path

from promstack.cli import BUILD_DIR, run_synth

PROJECT = Path(__file__).resolve().parent


def main() -> int:
    # Relative to where cdk8s runs (the project), so errors name clusters/<name>/cluster.yaml.
    clusters = Path(os.path.relpath(PROJECT / "clusters"))
    outdir = os.environ.get("CDK8S_OUTDIR")
    if outdir is None:
        return run_synth(clusters)
    output = Path(outdir).resolve()
    if output.is_relative_to(PROJECT / BUILD_DIR):
        return run_synth(clusters, copy_to=output)
    return run_synth(clusters, output)


if __name__ == "__main__":
    raise SystemExit(main())
