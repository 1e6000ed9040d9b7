"""Fleet figures for N clusters: `python bench/fleet.py N [--repeat R] [--jobs J] [--profile]`.

Makes a project in a temporary folder with N cluster folders (cluster-0000, ...) copied alternately
from clusters/demo and clusters/prod-example, then runs, as a user would (`promstack synth`, in a
fresh process with PYTHONOPTIMIZE=1 as `make synth` does), R times each:

- full synth: `promstack synth --no-cache` (every cluster rendered, all of dist/ swapped);
- incremental synth: one cluster's cluster.yaml edited, then `promstack synth` (the cache is warm);
- no-change synth: `promstack synth` again with nothing changed;
- validate: `promstack validate dist` (promtool and amtool when on PATH, else --skip-promtool).

It prints min and median of each, the peak RSS of each command's whole process tree (Python,
workers and their jsii Node runtimes, sampled every 0.1 s), how many folders the incremental run
rewrote, the objects rendered, and per object: the full synth's wall time against the floor of
merely serialising the same objects to YAML with the project's dumper (promstack.config.yamlio.dump),
with cdk8s' Yaml.stringify (through the jsii runtime) and with promstack.gitops.emit (its bytes in
pure Python, which synth writes with, cdk8s' for a file it is not proven on). --profile adds where
one in-process, single-job synth of up to 20 clusters spends its time. Prints figures only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("demo", "prod-example")
PROMSTACK = ROOT / ".venv" / "bin" / "promstack"
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"
#: How many clusters' objects the serialisation floor is measured on (the cost per object is flat).
FLOOR_CLUSTERS = 50


def make_fleet(n: int, clusters_dir: Path) -> list[Path]:
    """N cluster folders copied alternately from the shipped examples, and the fleet file."""
    folders = []
    for i in range(n):
        folder = clusters_dir / f"cluster-{i:04d}"
        shutil.copytree(ROOT / "clusters" / EXAMPLES[i % len(EXAMPLES)], folder)
        folders.append(folder)
    shutil.copy(ROOT / "clusters" / "fleet.yaml", clusters_dir / "fleet.yaml")
    return folders


def _tree_rss_kib(root: int) -> int:
    """Summed VmRSS of ``root`` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid = int(status.parent.name)
        parents[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree)


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``command``; (wall seconds, peak RSS MiB of its process tree, result)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return wall, peak[0] / 1024, subprocess.CompletedProcess(command, process.returncode, out, err)


def identities(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def rewritten_folders(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """The dist/ folders (clusters/<name>, bootstrap) holding a file that is new, gone or rewritten."""
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return sorted({"/".join(k.split("/")[:2]) if k.startswith("clusters/") else k.split("/")[0] for k in changed})


def load_objects(dist: Path) -> list[tuple[Path, list[dict[str, Any]]]]:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [(f, [d for d in yaml.load_all(f.read_text(), Loader=loader) if d]) for f in sorted(dist.rglob("*.yaml"))]


def floor_per_object(files: list[tuple[Path, list[dict[str, Any]]]]) -> tuple[float, float, float, int]:
    """(yamlio.dump ms, cdk8s Yaml.stringify ms, emit.stringify ms) per object over ``files``, and
    the objects timed."""
    from promstack.config.yamlio import dump
    from promstack.gitops.emit import stringify

    objects = sum(len(objs) for _, objs in files)
    start = time.perf_counter()
    for _, objs in files:
        "---\n".join(dump(o) for o in objs)
    ours = time.perf_counter() - start
    import cdk8s

    cdk8s.Yaml.stringify({"warm": "up"})
    start = time.perf_counter()
    for _, objs in files:
        cdk8s.Yaml.stringify(*objs)
    theirs = time.perf_counter() - start
    start = time.perf_counter()
    for _, objs in files:
        stringify(objs)
    emitted = time.perf_counter() - start
    return ours / objects * 1000, theirs / objects * 1000, emitted / objects * 1000, objects


def profile(clusters_dir: Path, out: Path) -> None:
    """Where an in-process, single-job synth spends its time, by phase (cProfile cumulative times)."""
    import cProfile
    import pstats

    from promstack.gitops.synth import synth

    with contextlib.redirect_stderr(io.StringIO()):  # the clusters' warnings
        synth(clusters_dir, out / "warm", jobs=1)  # imports, first jsii calls
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(synth, clusters_dir, out / "profiled", jobs=1)
        total = time.perf_counter() - start
    stats: dict[Any, Any] = pstats.Stats(profiler).__dict__["stats"]
    objects = sum(len(objs) for _, objs in load_objects(out / "profiled" / "clusters"))

    def cumulative(match: Callable[[str, str], bool]) -> float:
        return float(sum(value[3] for (file, _, name), value in stats.items() if match(file, name)))

    phases = {
        "load + check cluster.yaml": cumulative(lambda f, n: f.endswith("config/cluster.py") and n == "load_cluster"),
        "read sealed inputs, team content": cumulative(lambda f, n: f.endswith("config/inputs.py")
                                                       and n == "load_inputs"),
        "build constructs (Python + jsii/Node)": cumulative(lambda f, n: f.endswith("promstack/stack.py")
                                                            and n == "__init__"),
        "chart.to_json (jsii/Node)": cumulative(lambda f, n: f.endswith("gitops/synth.py") and n == "render")
        - cumulative(lambda f, n: f.endswith("gitops/synth.py") and n == "_ordered"),
        "ordering annotations": cumulative(lambda f, n: f.endswith("gitops/synth.py") and n == "_ordered"),
        "HPA check": cumulative(lambda f, n: f.endswith("gitops/synth.py") and n == "check_autoscaling"),
        "YAML text (promstack emit)": cumulative(lambda f, n: f.endswith("gitops/emit.py") and n == "stringify"),
        "YAML text (cdk8s Yaml.stringify fallback)": cumulative(lambda f, n: f.endswith("cdk8s/__init__.py")
                                                                 and n == "stringify"),
        "file writes": cumulative(lambda f, n: f.endswith("pathlib.py") and n == "write_text"),
    }
    print(f"\nprofile: in-process synth of {len(list(clusters_dir.glob('cluster-*')))} clusters, 1 job, "
          f"{total:.2f}s under cProfile, {objects} objects, {total / objects * 1000:.2f} ms/object")
    for phase, seconds in phases.items():
        print(f"  {phase:<46} {seconds:7.2f}s  {seconds / total:5.1%}  {seconds / objects * 1000:6.3f} ms/object")


def figures(times: list[float]) -> str:
    return f"min {min(times):7.2f}s  median {statistics.median(times):7.2f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of clusters")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print where an in-process synth spends its time")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="promstack-bench-") as tmp:
        project = Path(tmp)
        clusters_dir, dist = project / "clusters", project / "dist"
        clusters_dir.mkdir()
        make_fleet(args.n, clusters_dir)
        (project / "node_modules").symlink_to(ROOT / "node_modules")  # the project's Node 22 for jsii
        env = {**os.environ, "PYTHONOPTIMIZE": "1", "PYTHONDONTWRITEBYTECODE": ""}
        synth_cmd = [str(PROMSTACK), "synth"]
        promtool = shutil.which("promtool") is not None and shutil.which("amtool") is not None
        validate_cmd = [str(PROMSTACK), "validate", "dist", *([] if promtool else ["--skip-promtool"])]

        def timed(command: list[str], what: str) -> tuple[float, float]:
            wall, rss, done = run(command, project, env)
            if done.returncode != 0:
                sys.exit(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            return wall, rss

        full, incremental, unchanged, validate, rss = [], [], [], [], {}
        rewritten: list[str] = []
        target = clusters_dir / "cluster-0000" / "cluster.yaml"
        for attempt in range(args.repeat):
            wall, rss["full"] = timed([*synth_cmd, "--no-cache"], "full synth")
            full.append(wall)
            before = identities(dist)
            with target.open("a") as handle:
                handle.write(f"# bench edit {attempt}\n")
            wall, rss["incremental"] = timed(synth_cmd, "incremental synth")
            incremental.append(wall)
            rewritten = rewritten_folders(before, identities(dist))
            wall, rss["no-change"] = timed(synth_cmd, "no-change synth")
            unchanged.append(wall)
            wall, rss["validate"] = timed(validate_cmd, "validate")
            validate.append(wall)

        files = load_objects(dist)
        objects = sum(len(objs) for _, objs in files)
        sample = [(f, objs) for f, objs in files
                  if f.parts[len(dist.parts)] == "clusters"
                  and int(f.parts[len(dist.parts) + 1].split("-")[1]) < FLOOR_CLUSTERS]
        ours, theirs, emitted, timed_objects = floor_per_object(sample)
        size = sum(f.stat().st_size for f, _ in files)

        print(f"N = {args.n}: {args.n} clusters, {len(files)} files, {objects} objects, {size / 1e6:.1f} MB of YAML; "
              f"{args.repeat} run(s) each on {os.cpu_count()} cores")
        print(f"full synth         {figures(full)}   peak RSS {rss['full']:6.0f} MiB")
        print(f"incremental synth  {figures(incremental)}   peak RSS {rss['incremental']:6.0f} MiB   "
              f"rewrote: {', '.join(rewritten) or 'nothing'}")
        print(f"no-change synth    {figures(unchanged)}   peak RSS {rss['no-change']:6.0f} MiB")
        print(f"validate           {figures(validate)}   peak RSS {rss['validate']:6.0f} MiB"
              f"{'' if promtool else '   (promtool/amtool not on PATH: skipped)'}")
        best = min(full)
        print(f"per object: full synth {best / objects * 1000:.3f} ms (min run); serialisation floor "
              f"{ours:.3f} ms (yamlio.dump), {theirs:.3f} ms (cdk8s Yaml.stringify), {emitted:.3f} ms (emit), "
              f"over {timed_objects} objects; "
              f"synth = {best / objects * 1000 / ours:.0f}x the floor")
        if args.profile:
            small = project / "profile" / "clusters"
            small.mkdir(parents=True)
            make_fleet(min(args.n, 20), small)
            profile(small, project / "profile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
