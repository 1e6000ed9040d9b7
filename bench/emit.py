"""YAML text for one cluster: cdk8s' Yaml.stringify (jsii/Node) against promstack.gitops.emit.

`python bench/emit.py [--cluster NAME] [--runs N]` (default prod-example, 20) re-reads the cluster's
files under dist/clusters/NAME (the objects synth renders for them), writes every file's text N
times with each writer in this process, after one warm-up call each, and prints the min and median
ms per cluster (all its files) of each and their ratios. The emitter caches the text of each string
(a fleet's clusters share most of theirs): "cold" clears that cache before every pass, as for the
first cluster a synth worker writes; "warm" keeps it, as for the ones after. Prints figures only;
nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def timed(write: Callable[[Sequence[Any]], str], files: list[list[Any]], runs: int,
          before: Callable[[], None] = lambda: None) -> list[float]:
    """ms per cluster of each of ``runs`` passes writing every file's text with ``write``, calling
    ``before`` (untimed) ahead of each pass."""
    write(files[0])  # warm-up: the jsii runtime's first call, regex compilation
    samples = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        for objects in files:
            write(objects)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="prod-example")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"  # Node 22 for jsii
    import cdk8s

    from promstack.gitops.emit import cache_clear, stringify

    paths = sorted((ROOT / "dist" / "clusters" / args.cluster).rglob("*.yaml"))
    files = [list(yaml.safe_load_all(p.read_text(encoding="utf-8"))) for p in paths]
    if any(stringify(objects) != p.read_text(encoding="utf-8") for objects, p in zip(files, paths, strict=True)):
        print("emit does not reproduce dist/: figures would compare different work", file=sys.stderr)
        return 1
    results = {"cdk8s Yaml.stringify": timed(lambda objects: cdk8s.Yaml.stringify(*objects), files, args.runs),
               "emit.stringify, cold cache": timed(stringify, files, args.runs, before=cache_clear),
               "emit.stringify, warm cache": timed(stringify, files, args.runs)}
    print(f"{args.cluster}: {len(files)} files, {sum(map(len, files))} objects, {args.runs} runs each")
    for name, samples in results.items():
        print(f"  {name:<26} min {min(samples):7.2f} ms  median {statistics.median(samples):7.2f} ms per cluster")
    theirs, cold, warm = (statistics.median(s) for s in results.values())
    print(f"  median ratios: emit is {theirs / cold:.1f}x (cold) and {theirs / warm:.1f}x (warm) faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
