"""Warm `make synth` of the shipped clusters against the floor of importing cdk8s and cdk8s-plus-27.

`python bench/synth.py [--runs N]` (default 5) runs both in fresh processes, alternating, after one
warm-up each, and prints the median, min and max of each and the ratio of the medians. Prints
figures only; nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
COMMANDS = {
    "floor: import cdk8s, cdk8s_plus_27": [str(PYTHON), "-c", "import cdk8s, cdk8s_plus_27"],
    "make synth (warm)": ["make", "--no-print-directory", "-s", "synth"],
}


def timed(command: list[str]) -> float:
    env = {**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():
        timed(command)  # warm-up: bytecode caches, page cache, the bootstrap stamps
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            samples[name].append(timed(command))
    for name, values in samples.items():
        print(f"{name:38s} median {statistics.median(values):6.2f} s   min {min(values):5.2f}   "
              f"max {max(values):5.2f}   ({len(values)} runs)")
    floor, synth = (statistics.median(v) for v in samples.values())
    print(f"ratio synth / floor: {synth / floor:.2f}   (target <= 2.5; cores: {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
