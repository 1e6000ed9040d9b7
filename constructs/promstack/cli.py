"""The `promstack` command: synth, schema, and the subcommands the cert helper, diff and the gate add."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from promstack.certs import clip
from promstack.config.cluster import json_schema
from promstack.config.model import ConfigError

#: Scratch space of a project (beside clusters/ and dist/): synth renders and takes its lock here.
BUILD_DIR = ".build"


def _use_project_node(project: Path) -> None:
    """Run jsii on the project's pinned Node (node_modules/.bin/node, package.json), not whatever
    `node` comes first on PATH: an old one makes jsii print an end-of-life banner."""
    node = project / "node_modules" / ".bin" / "node"
    if "JSII_NODE" not in os.environ and node.exists():
        os.environ["JSII_NODE"] = str(node.resolve())


def run_synth(clusters_dir: Path, dist: Path | None = None, *, copy_to: Path | None = None,
              use_cache: bool = True) -> int:
    """Render every cluster and swap the result into ``dist`` (default: dist/ beside ``clusters_dir``)
    only if the whole run succeeded; on bad input print one line per problem and return 2.

    What `make synth`, `cdk8s synth` (main.py) and `promstack synth` run. Every line goes to stderr:
    under `cdk8s synth` the app's stdout is swallowed. ``use_cache=False`` renders every cluster
    instead of only those whose inputs changed (see promstack.gitops.cache).
    """
    project = clusters_dir.parent
    dist = project / "dist" if dist is None else dist
    _use_project_node(project)
    from promstack.gitops.incremental import synth_and_swap  # jsii starts only if a cluster must render

    def waiting() -> None:
        print(f"promstack: another synth of {project.resolve()} is running; waiting for it to finish",
              file=sys.stderr)

    try:
        clusters = synth_and_swap(clusters_dir, dist, build_dir=project / BUILD_DIR, copy_to=copy_to,
                                  on_wait=waiting, use_cache=use_cache)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"promstack: error: {problem}", file=sys.stderr)
        return 2
    names = ", ".join(clusters)
    print(f"promstack: synthesized {len(clusters)} cluster(s) into {dist}/: {names}", file=sys.stderr)
    return 0


def _synth(args: argparse.Namespace) -> int:
    return run_synth(Path(args.clusters_dir), use_cache=not args.no_cache)


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _schema(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output:
        output = Path(args.output)
        try:  # whole or nothing: a temporary file beside the target, renamed over it
            temp = output.with_name(f".{output.name}.tmp")
            temp.write_text(text, encoding="utf-8")
            temp.replace(output)
        except OSError as exc:
            print(f"promstack: error: {clip(str(output))}: cannot write ({exc.strerror or exc}); "
                  "give a writable path with --output", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0


def _version() -> str:
    try:
        return version("promstack")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked: reading package metadata costs every other run time."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the installed version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"{parser.prog} {_version()}")  # on stdout, as argparse's own version action does
        parser.exit()


def build_parser(*, tools: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``tools=False`` leaves out certs, seal, diff, validate and
    check-autoscaling, whose imports (cryptography, jsonschema ...) `promstack synth`, the hot path
    of `make synth`, skips."""
    parser = argparse.ArgumentParser(
        prog="promstack",
        description="GitOps manifest compiler for a Kubernetes custom-metrics monitoring stack (cdk8s).",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", required=True)
    synth = subparsers.add_parser(
        "synth",
        help="render every clusters/<name>/cluster.yaml into dist/, as `make synth` does",
        description=(
            "Render every cluster into a new folder under .build/ and swap it into dist/ (beside the "
            "clusters folder) only if the whole run succeeded. Only the clusters whose inputs changed "
            "since the last synth are rendered and only their folders of dist/ replaced (the cache "
            "under .build/cache/ covers each cluster's files, clusters/_shared/, fleet.yaml, the "
            "promstack code and the pinned dependencies). Exit 0 done, 2 bad input (one line per "
            "problem; dist/ untouched)."
        ),
    )
    synth.add_argument("--clusters-dir", default="clusters", metavar="DIR",
                       help="folder holding one folder per cluster (default: clusters)")
    synth.add_argument("--no-cache", action="store_true",
                       help="render every cluster and replace all of dist/, whatever the cache says")
    synth.set_defaults(func=_synth)
    schema = subparsers.add_parser("schema", help="print the JSON Schema of clusters/<name>/cluster.yaml")
    schema.add_argument("--output", "-o", help="write to this file instead of stdout")
    schema.set_defaults(func=_schema)
    if tools:
        from promstack.certs.cli import register as register_certs
        from promstack.certs.web_auth import register as register_web_auth
        from promstack.content.autoscaling_cli import register as register_autoscaling
        from promstack.diff import register as register_diff
        from promstack.validate.cli import register as register_validate

        register_certs(subparsers)
        register_web_auth(subparsers)
        register_diff(subparsers)
        register_validate(subparsers)
        register_autoscaling(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(tools=arguments[:1] != ["synth"]).parse_args(arguments)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
