"""``promstack check-autoscaling --cluster NAME PATH...``: would this cluster serve an app team's autoscalers?

Reads autoscaling/v2 HorizontalPodAutoscalers and KEDA ScaledObjects from files or folders (any
number of YAML documents, ``kind: List`` expanded; the validation gate's bounded reader) and
checks each against the cluster's ``autoscaling.provider``:

- prometheus-adapter: each Pods or Object metric of an HPA must be served by one of the cluster's
  adapter rules (upstream's defaults, cluster.yaml's ``adapter.rules``, the example app's rule);
  External metrics are never served (the stack registers custom.metrics.k8s.io only).
- keda: an HPA on custom metrics is served by nothing (KEDA replaces the adapter): use a
  ScaledObject. Each ``prometheus`` trigger needs ``threshold``, a ``serverAddress`` that is the
  cluster's Prometheus Service and a ``query`` that passes the query checks
  (:func:`promstack.content.autoscaling_check.query_problems`).

One line per problem, ``file: Kind/namespace/name: field.path: problem; fix``, and one ``ok`` line
per autoscaler without problems; a summary on stderr. Exit 0 all served, 1 a problem found, 2 bad
input (a path or cluster that cannot be read, a document that is no Kubernetes object).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from promstack.components.prometheus_adapter.rules import EXAMPLE_APP_RULE
from promstack.config import names
from promstack.config.cluster import CLUSTER_FILE, ClusterConfig, load_cluster
from promstack.config.model import ConfigError, duration_ms, show, show_path
from promstack.content.autoscaling_check import query_problems, scaler_known_metrics, scaling_problems
from promstack.content.catalog import known_metric_names
from promstack.content.hpa_check import served_metrics
from promstack.validate.findings import format_path, printable
from promstack.validate.loader import Document, InputError, load_units

PROG = "promstack check-autoscaling"
#: Prometheus' Service port (components/prometheus.py PORT; a test holds the two together).
PROMETHEUS_PORT = 9090
HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"
_CUSTOM = ("Pods", "Object", "External")


class BadInput(Exception):
    """Input this command cannot check (exit 2); the message names the file and the fix."""


def prometheus_url(namespace: str) -> str:
    """The in-cluster URL of the stack's Prometheus Service in ``namespace``."""
    return f"http://{names.PROMETHEUS}.{namespace}.svc:{PROMETHEUS_PORT}"


def _same_url(address: str, url: str) -> bool:
    """``address`` names ``url``'s Service, with or without the cluster domain and a trailing slash."""
    address = address.strip().rstrip("/")
    return address in (url, url.replace(".svc:", ".svc.cluster.local:"))


def find_cluster(root: Path, name: str) -> ClusterConfig:
    """The cluster ``name`` of the platform repository at ``root``; BadInput naming the fix if there is none."""
    clusters = root / "clusters"
    if not clusters.is_dir():
        raise BadInput(f"{show_path(clusters)}: no such folder; run from the platform repository or give its folder "
                       "with --root")
    folder = clusters / name
    if not (folder / CLUSTER_FILE).is_file():
        known = sorted(p.name for p in clusters.iterdir() if (p / CLUSTER_FILE).is_file())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise BadInput(f"{show_path(folder / CLUSTER_FILE)}: no cluster {show(name)}; {hint}give --cluster one of: "
                       f"{', '.join(known) or '(none)'}")
    return load_cluster(folder)


class Checker:
    """The checks of one cluster, applied to one autoscaler at a time."""

    def __init__(self, cluster: ClusterConfig, declared: Sequence[str]) -> None:
        spec = cluster.spec
        self.cluster = cluster
        self.provider = spec.autoscaling.provider
        rules = [*spec.adapter.all_rules, *([EXAMPLE_APP_RULE] if spec.example_app.enabled else [])]
        self.served = served_metrics(rules, known_metric_names() | set(declared))
        self.known = scaler_known_metrics(declared)
        self.scrape_interval = (duration_ms(spec.prometheus.scrape_interval) or 0) / 1000
        self.url = prometheus_url(cluster.namespace)

    def check(self, doc: Document) -> tuple[list[str], str]:
        """The problems of one autoscaler (each ``file: Kind/ns/name: path: problem; fix``) and what was checked."""
        if doc.kind == HPA:
            return self._hpa(doc)
        return self._scaled_object(doc)

    def _hpa(self, doc: Document) -> tuple[list[str], str]:
        if doc.api_version == "autoscaling/v1":
            return [], "autoscaling/v1 scales on CPU only, which metrics-server serves"
        if doc.api_version != "autoscaling/v2":
            return [f"{at(doc, 'apiVersion')}: {show(doc.api_version)} is not served by Kubernetes 1.26 and later; "
                    "use autoscaling/v2"], ""
        metrics = doc.spec.get("metrics")
        if not isinstance(metrics, list):
            return [], "no metrics: scales on CPU, which metrics-server serves"
        problems, served = [], []
        for i, metric in enumerate(metrics):
            kind = metric.get("type") if isinstance(metric, dict) else None
            if kind not in _CUSTOM:
                continue
            field = str(kind).lower()
            source = metric.get(field)
            ident = source.get("metric") if isinstance(source, dict) else None
            name = ident.get("name") if isinstance(ident, dict) else None
            where = at(doc, "spec", "metrics", i, field, "metric", "name")
            if not isinstance(name, str) or not name:
                problems.append(f"{where}: missing; name the {kind} metric the HPA scales on")
            elif self.provider == "keda":
                problems.append(
                    f"{where}: cluster {self.cluster.name} scales with KEDA (autoscaling.provider: keda) and runs no "
                    f"prometheus-adapter, so nothing serves the {kind} metric {show(name)}; replace this HPA with a "
                    "KEDA ScaledObject with a prometheus trigger")
            elif kind == "External":
                problems.append(
                    f"{where}: the External metric {show(name)} is not served: cluster {self.cluster.name}'s "
                    f"prometheus-adapter registers {names.CUSTOM_METRICS_GROUP} only; use a Pods or Object metric "
                    "an adapter rule serves")
            elif name not in self.served:
                close = difflib.get_close_matches(name, sorted(self.served), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(
                    f"{where}: no adapter rule of cluster {self.cluster.name} serves the {kind} metric {show(name)}; "
                    f"{hint}if your app exports the series it comes from, declare it with --metric SERIES, or ask "
                    "the platform team for a rule in adapter.rules")
            else:
                served.append(name)
        if not problems and not served:
            return [], "no custom metrics: CPU and memory come from metrics-server"
        return problems, f"prometheus-adapter serves {', '.join(served)}"

    def _scaled_object(self, doc: Document) -> tuple[list[str], str]:
        problems = []
        if self.provider != "keda":
            problems.append(
                f"{at(doc, 'kind')}: cluster {self.cluster.name}'s autoscaling.provider is prometheus-adapter, which "
                "runs no KEDA, so nothing acts on a ScaledObject; use an autoscaling/v2 HPA on a metric an adapter "
                "rule serves, or ask the platform team to switch the cluster to keda")
        triggers = doc.spec.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            return [*problems, f"{at(doc, 'spec', 'triggers')}: none; add a prometheus trigger"], ""
        checked = others = 0
        for i, trigger in enumerate(triggers):
            if not isinstance(trigger, dict) or trigger.get("type") != "prometheus":
                others += 1
                continue
            checked += 1
            problems += self._trigger(doc, i, trigger.get("metadata"))
        summary = f"{checked} prometheus trigger(s) checked (query, threshold, serverAddress)"
        if others:
            summary += f"; {others} other trigger(s) not checked"
        return problems, summary

    def _trigger(self, doc: Document, i: int, metadata: Any) -> list[str]:
        base = ("spec", "triggers", i, "metadata")
        if not isinstance(metadata, dict):
            return [f"{at(doc, *base)}: missing; give serverAddress, query and threshold"]
        problems = []
        address = metadata.get("serverAddress")
        if not isinstance(address, str) or not address.strip():
            problems.append(f"{at(doc, *base, 'serverAddress')}: missing; use {self.url}, cluster "
                            f"{self.cluster.name}'s Prometheus")
        elif not _same_url(address, self.url):
            problems.append(f"{at(doc, *base, 'serverAddress')}: points at {show(address)}, not cluster "
                            f"{self.cluster.name}'s Prometheus; use {self.url}")
        query = metadata.get("query")
        if not isinstance(query, str) or not query.strip():
            problems.append(f"{at(doc, *base, 'query')}: missing; give the PromQL query KEDA scales on")
        else:
            problems += query_problems(query, known_metrics=self.known, scrape_interval_seconds=self.scrape_interval,
                                       where=at(doc, *base, "query"),
                                       undeclared_fix="correct the name, or declare your app's own metric with "
                                                      "--metric SERIES")
        threshold = metadata.get("threshold")
        if threshold is None or threshold == "":
            problems.append(f"{at(doc, *base, 'threshold')}: missing; KEDA requires it: the query's value per "
                            "replica, e.g. '10'")
        elif not _is_number(threshold):
            problems.append(f"{at(doc, *base, 'threshold')}: {show(threshold)} is not a number; write e.g. '10'")
        return problems


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return Decimal(str(value).strip()).is_finite()
    except InvalidOperation:
        return False


def at(doc: Document, *path: str | int) -> str:
    """``file: Kind/namespace/name: field.path`` of a place in ``doc`` (a List item's path starts with items[i])."""
    return f"{doc.file}: {doc.ref}: {format_path((*doc.prefix, *path))}"


def autoscalers(paths: Sequence[str]) -> list[Document]:
    """The HPAs and ScaledObjects under ``paths``; BadInput for input that is no Kubernetes manifest."""
    try:
        units = load_units(paths)
    except InputError as exc:
        message = str(exc)
        raise BadInput(f"{message}; fix the YAML there" if "invalid YAML" in message else message) from None
    found = []
    for unit in units:
        for doc in unit.documents:
            if doc.envelope:
                continue
            if not doc.is_object or not doc.api_version or not doc.kind:
                raise BadInput(f"{doc.file}: {doc.location}: not a Kubernetes object (no apiVersion and kind); give "
                               "only Kubernetes manifests, e.g. the folder of your HPAs and ScaledObjects")
            if doc.kind == HPA or (doc.kind == SCALED_OBJECT and doc.group == "keda.sh"):
                found.append(doc)
    if not found:
        raise BadInput(f"{', '.join(paths)}: no HorizontalPodAutoscaler or KEDA ScaledObject found; give the files "
                       "or folders that hold them")
    return found


def run(args: argparse.Namespace) -> int:
    """Check every autoscaler under ``args.paths`` against ``args.cluster``; print, and return the exit status."""
    try:
        cluster = find_cluster(Path(args.root), args.cluster)
        docs = autoscalers(args.paths)
    except BadInput as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{PROG}: error: {printable(problem)}", file=sys.stderr)
        return 2
    checker = Checker(cluster, args.metrics)
    by_object = {id(doc.obj): doc for doc in docs}
    twice = scaling_problems([doc.obj for doc in docs], None,
                             where=lambda obj: f"{by_object[id(obj)].file}: {by_object[id(obj)].ref}")
    total = 0
    for doc in docs:
        problems, checked = checker.check(doc)
        prefix = f"{doc.file}: {doc.ref}: "
        problems += [p for p in twice if p.startswith(prefix)]
        for problem in problems:
            print(printable(problem))
        if not problems:
            print(printable(f"{doc.file}: {doc.ref}: ok: {checked}"))
        total += len(problems)
    print(f"{PROG}: {total} problem(s) in {len(docs)} autoscaler(s), cluster {cluster.name} "
          f"(autoscaling.provider {checker.provider})", file=sys.stderr)
    return 1 if total else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``check-autoscaling`` to a ``parser.add_subparsers(...)``; it sets ``func`` to ``run``."""
    parser = subparsers.add_parser(
        "check-autoscaling",
        help="check an app team's HPAs and KEDA ScaledObjects against a cluster's autoscaling provider",
        description=(
            "Check autoscaling/v2 HPAs and KEDA ScaledObjects (files or folders) against cluster NAME of the "
            "platform repository at --root: is each metric served by its autoscaling provider, does each "
            "prometheus trigger's query parse, return one value, name known metrics and read windows of at least "
            "two scrapes. Exit 0 all served, 1 a problem found, 2 bad input."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders of the app")
    parser.add_argument("--cluster", required=True, metavar="NAME", help="the cluster the app deploys to")
    parser.add_argument("--root", default=".", metavar="DIR",
                        help="the platform repository, holding clusters/NAME/cluster.yaml (default: .)")
    parser.add_argument("--metric", action="append", dest="metrics", default=[], metavar="SERIES",
                        help="a series the app exports itself, which no exporter of the stack lists (repeatable)")
    parser.set_defaults(func=run)
    return parser
