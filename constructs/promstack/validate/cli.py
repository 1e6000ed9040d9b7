"""``promstack validate [PATH ...]``: the validation gate for rendered manifests.

With ``--base REF`` it also runs the ``upgrade`` check: each change from dist/ at the git revision
REF to dist/ now that Kubernetes refuses on update (an immutable field) is a finding.

Exit status: 0 no finding, 1 findings, 2 usage error or input that cannot be read (a missing,
unreadable or non-regular file, bad or too deeply nested YAML), 3 an internal error of the gate
itself: a crash never exits 1, the status of findings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from promstack.validate import schemas
from promstack.validate.findings import clip, printable
from promstack.validate.gate import UsageError, run
from promstack.validate.loader import InputError
from promstack.validate.report import format_json, format_text
from promstack.validate.upgrade import upgrade_findings

DEFAULT_PATH = "dist"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"manifest files or folders (default: {DEFAULT_PATH}); each clusters/<name>/ folder is one unit",
    )
    parser.add_argument(
        "--k8s-version",
        action="append",
        dest="k8s_versions",
        metavar="X.Y",
        default=[],
        help="validate against this Kubernetes minor only (repeatable; default: every supported minor)",
    )
    parser.add_argument(
        "--allow-kind",
        action="append",
        dest="allowed_kinds",
        metavar="APIVERSION/KIND",
        default=[],
        help="accept objects of this kind without a schema, e.g. monitoring.coreos.com/v1/ServiceMonitor (repeatable)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument(
        "--tracked",
        nargs="?",
        const=".",
        default=None,
        metavar="REPO",
        help="also scan every git-tracked file of REPO (default: .) for private keys",
    )
    parser.add_argument("--skip-promtool", action="store_true",
                        help="do not run promtool and amtool (default: run them)")
    parser.add_argument("--promtool", default=None, metavar="PATH", help="promtool binary (default: promtool on PATH)")
    parser.add_argument("--flows", action="store_true",
                        help="also list, per unit, every connection the rendered objects need (scrapes, datasources, "
                             "APIServices, Alertmanager peers) and whether its NetworkPolicies allow it")
    parser.add_argument("--base", default=None, metavar="REF",
                        help="also check that the change from the dist/ folder at git revision REF to it now "
                             "touches no field Kubernetes refuses to update (check 'upgrade'; PATH must then be "
                             "that one folder)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``validate`` to a ``parser.add_subparsers(...)``; it sets ``func`` to ``run_validate``."""
    versions = schemas.supported_versions()
    parser = subparsers.add_parser(
        "validate",
        help="validate rendered manifests (schemas, wiring, policy, promtool)",
        description=(
            f"Validate rendered manifests: strict Kubernetes {versions[0]}-{versions[-1]} and CRD schemas, "
            "wiring, hardening policy, NetworkPolicy reachability and promtool; with --base REF, also changes "
            "since REF that Kubernetes "
            "refuses on update (immutable fields). Exit 0 clean, 1 findings, 2 usage or input error, "
            "3 internal error."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run_validate)
    return parser


def run_validate(args: argparse.Namespace) -> int:
    """Run the gate for parsed ``args``; print findings to stdout and a summary to stderr."""
    try:
        result = run(
            args.paths or [DEFAULT_PATH],
            versions=args.k8s_versions,
            tracked_repo=args.tracked,
            run_promtool=not args.skip_promtool,
            promtool_binary=args.promtool,
            allowed_kinds=set(args.allowed_kinds),
            flows=getattr(args, "flows", False),
        )
        if args.base is not None:
            paths = args.paths or [DEFAULT_PATH]
            if len(paths) != 1 or not Path(paths[0]).is_dir():
                raise UsageError("--base compares one rendered folder with git: give exactly one PATH, a folder "
                                 "(default: dist)")
            result.findings = [*result.findings, *upgrade_findings(Path(paths[0]), args.base)]
    except (UsageError, InputError) as exc:
        print(f"promstack validate: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug must not exit 1, which means findings
        print(
            f"promstack validate: internal error: {type(exc).__name__}: {clip(str(exc), 100)} "
            "(a bug in the gate, not a finding: please report it)",
            file=sys.stderr,
        )
        return 3
    out = format_json(result.findings) if args.format == "json" else format_text(result.findings)
    if getattr(args, "flows", False):
        # Beside JSON on stdout the list goes to stderr, so stdout stays one JSON document.
        stream = sys.stderr if args.format == "json" else sys.stdout
        for line in result.flows:
            print(printable(line), file=stream)
    sys.stdout.write(out)
    objects = result.objects
    print(
        f"promstack validate: {len(result.findings)} finding(s) in {objects} object(s), {len(result.units)} unit(s), "
        f"Kubernetes {schemas.version_ranges(result.versions)}",
        file=sys.stderr,
    )
    return 1 if result.findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (``python -m promstack.validate``)."""
    parser = argparse.ArgumentParser(prog="promstack validate", description=__doc__)
    add_arguments(parser)
    return run_validate(parser.parse_args(argv))
