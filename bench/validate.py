"""Per-object cost of the validation gate's schema check next to kubernetes-validate's one-call API.

    python bench/validate.py [DIST] [--copies N] [--sample N]

DIST (default dist/) and a generated set (the good test fixture copied N times, default 200,
each copy in its own namespace) are measured the same way: the gate's schema check over every
supported Kubernetes minor, cold (first run in the process: definitions read, validators
compiled) and warm (validators reused), and ``kubernetes_validate.validate(obj, version,
strict=True)`` on the same core objects (custom resources have no schema there), on a sample
of ``--sample`` objects (default 60) since it costs milliseconds per call. Also the whole gate
without promtool. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from promstack.validate.gate import run
from promstack.validate.k8s import is_builtin_group
from promstack.validate.loader import Document, load_units
from promstack.validate.schemas import check_schemas, supported_versions

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "tests" / "validate" / "fixtures" / "good"


def _renamed(node: Any, i: int) -> Any:
    """Every reference to namespace ``demo`` (metadata, subjects, APIService) moved to ``demo-<i>``."""
    if isinstance(node, dict):
        return {k: (f"demo-{i}" if k == "namespace" and v == "demo" else _renamed(v, i)) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, i) for v in node]
    return node


def generate(copies: int, out: Path) -> Path:
    """The good fixture ``copies`` times, each copy in namespace demo-<i>; other names suffixed -<i>."""
    objs = [o for f in sorted(GOOD.glob("*.yaml")) for o in yaml.safe_load_all(f.read_text()) if o]
    for i in range(copies):
        docs = []
        for obj in objs:
            obj = _renamed(copy.deepcopy(obj), i)
            meta = obj["metadata"]
            if obj["kind"] == "Namespace":
                meta["name"] = f"demo-{i}"
            elif obj["kind"] == "APIService":  # its name must be <version>.<group>
                obj["spec"]["group"] = f"custom{i}.metrics.k8s.io"
                meta["name"] = f"{obj['spec']['version']}.{obj['spec']['group']}"
            elif meta.get("namespace") != f"demo-{i}":  # cluster-scoped or in a shared namespace
                meta["name"] = f"{meta['name']}-{i}"
                for ref in [obj.get("roleRef", {})]:
                    if ref.get("kind") == "ClusterRole" and not ref.get("name", "").startswith("system:"):
                        ref["name"] = f"{ref['name']}-{i}"
            for port in obj.get("spec", {}).get("ports", []) if obj["kind"] == "Service" else []:
                if "nodePort" in port:
                    port["nodePort"] += i  # unique per cluster
            docs.append(obj)
        (out / f"copy-{i:03d}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return out


def is_core(doc: Document) -> bool:
    return is_builtin_group(doc.group)


def measure(label: str, path: Path, sample: int) -> None:
    versions = supported_versions()
    units = load_units([path])
    docs = [d for u in units for d in u.documents]
    core = [d for d in docs if d.is_object and is_core(d)]
    n_ver = len(versions)
    print(
        f"\n== {label}: {path} — {len(docs)} objects ({len(core)} core) x {n_ver} minors ({versions[0]}-{versions[-1]})"
    )

    for phase in ("1st run", "2nd run"):  # the 1st run in the process compiles the validators
        start = time.perf_counter()
        for unit in units:
            check_schemas(unit.documents, versions)
        took = time.perf_counter() - start
        print(
            f"gate schema check, {phase}: {took * 1000:8.1f} ms total, "
            f"{took * 1000 / (len(docs) * n_ver):6.3f} ms/object/version (all objects)"
        )

    start = time.perf_counter()
    for unit in units:
        check_schemas([d for d in unit.documents if is_core(d)], versions)
    took = time.perf_counter() - start
    print(f"gate schema check, core objects only: {took * 1000 / (len(core) * n_ver):7.3f} ms/object/version")

    picked = core[:: max(1, len(core) // sample)][:sample]
    start = time.perf_counter()
    for doc in picked:
        for version in versions:
            with contextlib.suppress(kubernetes_validate.ValidationError):
                kubernetes_validate.validate(doc.obj, version, strict=True)
    took = time.perf_counter() - start
    print(
        f"kubernetes_validate.validate(strict=True): {took * 1000 / (len(picked) * n_ver):7.3f} ms/object/version "
        f"({len(picked)} core objects sampled)"
    )

    start = time.perf_counter()
    result = run([path], run_promtool=False)
    took = time.perf_counter() - start
    print(
        f"whole gate without promtool: {took * 1000:9.1f} ms, {took * 1000 / len(docs):7.3f} ms/object, "
        f"{len(result.findings)} finding(s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist", nargs="?", default=str(ROOT / "dist"), help="rendered manifests (default: dist/)")
    parser.add_argument("--copies", type=int, default=200, help="copies of the good fixture (default: 200)")
    parser.add_argument("--sample", type=int, default=60, help="objects timed with kubernetes-validate (default: 60)")
    args = parser.parse_args(argv)
    dist = Path(args.dist)
    if dist.is_dir():
        measure("dist", dist, args.sample)
    else:
        print(f"{dist}: not found, skipped (run make synth)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"generated x{args.copies}", generate(args.copies, Path(tmp)), args.sample)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
