"""The `promstack` command: schema, and the subcommands the cert helper and the gate add."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from promstack.certs.cli import register as register_certs
from promstack.config.cluster import json_schema
from promstack.config.model import ConfigError
from promstack.diff import register as register_diff
from promstack.validate.cli import register as register_validate


def run_synth(clusters_dir: Path) -> int:
    """Synthesize every cluster; on bad input print one line per problem and return 2."""
    from promstack.gitops.synth import default_outdir, synth  # jsii starts here, not at import time

    try:
        clusters = synth(clusters_dir, default_outdir())
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"promstack: error: {problem}", file=sys.stderr)
        return 2
    print(f"promstack: synthesized {len(clusters)} cluster(s): {', '.join(c.name for c in clusters)}")
    return 0


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _schema(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promstack", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    schema = subparsers.add_parser("schema", help="print the JSON Schema of clusters/<name>/cluster.yaml")
    schema.add_argument("--output", "-o", help="write to this file instead of stdout")
    schema.set_defaults(func=_schema)
    register_certs(subparsers)
    register_diff(subparsers)
    register_validate(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
