"""Synthesis cost for a fleet of N clusters: `python bench/fleet.py N [--jobs J]`.

Makes N cluster folders (cluster-000, ...) in a temporary folder, copying clusters/demo and
clusters/prod-example alternately, synthesizes them in-process with promstack.gitops.synth.synth
(as many worker processes as synth picks, or --jobs J), then validates the output if promstack.validate
is installed. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("demo", "prod-example")
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"


def make_fleet(n: int, clusters_dir: Path) -> list[Path]:
    """N cluster folders copied alternately from the shipped examples."""
    folders = []
    for i in range(n):
        folder = clusters_dir / f"cluster-{i:03d}"
        shutil.copytree(ROOT / "clusters" / EXAMPLES[i % len(EXAMPLES)], folder)
        folders.append(folder)
    shutil.copy(ROOT / "clusters" / "fleet.yaml", clusters_dir / "fleet.yaml")
    return folders


def child_peak_rss_kib() -> int:
    """Largest peak RSS (VmHWM) among live child processes, e.g. the jsii node runtime (Linux)."""
    peak = 0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                continue
    return peak


def count_objects(outdir: Path) -> tuple[int, int, int]:
    """(files, objects, bytes) of the rendered tree."""
    import yaml

    files = sorted(outdir.rglob("*.yaml"))
    objects = sum(1 for f in files for doc in yaml.safe_load_all(f.read_text()) if doc)
    return len(files), objects, sum(f.stat().st_size for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of clusters")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: what synth picks)")
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries (jobs=1)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="promstack-bench-") as tmp:
        work = Path(tmp)
        clusters_dir, outdir = work / "clusters", work / "out"
        clusters_dir.mkdir()
        make_fleet(args.n, clusters_dir)
        from promstack.gitops.synth import default_jobs, synth

        jobs = args.jobs or default_jobs(args.n)
        start = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(synth, clusters_dir, outdir, jobs=1)
            wall = time.perf_counter() - start
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        else:
            synth(clusters_dir, outdir, jobs=jobs)
            wall = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"synth: {wall:.2f}s wall, {jobs} job(s)")
        print(f"peak RSS: {rss / 1024:.0f} MiB Python (parent), {max(workers, child_peak_rss_kib()) / 1024:.0f} MiB "
              "largest child (a worker or the jsii node runtime)")
        files, objects, size = count_objects(outdir)
        print(f"clusters: {args.n}, files: {files}, objects: {objects}, bytes: {size}")
        print(f"per cluster: {wall / args.n * 1000:.0f} ms, per object: {wall / objects * 1000:.2f} ms")

        try:
            from promstack.validate import validate_paths
        except ImportError:
            try:
                from promstack.validate.gate import validate_paths
            except ImportError:
                print("validate: not available")
                return 0
        start = time.perf_counter()
        try:
            findings = validate_paths([outdir / "clusters"], run_promtool=shutil.which("promtool") is not None)
        except Exception as exc:
            print(f"validate: failed to run: {exc}")
            return 0
        print(f"validate: {time.perf_counter() - start:.2f}s, {len(findings)} finding(s)"
              f"{'' if shutil.which('promtool') else ' (promtool not on PATH: skipped)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
