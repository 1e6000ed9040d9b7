"""Synthesis: every cluster under clusters/ into <outdir>/clusters/<name>/ (one file per component,
the adapter's APIServices under apiservice/), and the Argo CD / Flux objects into <outdir>/bootstrap/."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cdk8s

from promstack.config.cluster import ClusterConfig, load_cluster
from promstack.config.fleet import FleetConfig
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.content import catalog
from promstack.content.hpa_check import check_hpas
from promstack.gitops.delivery import APISERVICE_DIR, build_argocd, build_flux, ordering_annotations
from promstack.gitops.incremental import find_clusters, print_warnings
from promstack.stack import MonitoringStack

#: One rendered file: where it goes and the objects in it, as the cluster will see them.
Rendered = tuple[Path, list[dict[str, Any]]]


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its kind's sync wave and no-prune markers (delivery.ordering_annotations), its
    metadata keys sorted as cdk8s writes them."""
    extra = ordering_annotations(str(obj.get("kind", "")))
    if extra:
        metadata = obj.setdefault("metadata", {})
        metadata["annotations"] = dict(sorted({**metadata.get("annotations", {}), **extra}.items()))
        obj["metadata"] = dict(sorted(metadata.items()))
    return obj


def render(charts: Iterable[cdk8s.Chart], folder: Path, *, ordered: bool) -> list[Rendered]:
    """Each chart as the file cdk8s would write for it, ``<folder>/<chart id>.yaml``: one call into
    the jsii runtime per chart, the ordering annotations added here (far fewer round trips than
    annotating every object through the runtime)."""
    files = []
    for chart in charts:
        objects: list[dict[str, Any]] = chart.to_json()
        files.append((folder / f"{chart.node.id}.yaml", [_ordered(o) for o in objects] if ordered else objects))
    return files


def write(files: Iterable[Rendered]) -> None:
    """Write rendered files with cdk8s' own YAML writer, so the text is what `cdk8s synth` writes."""
    for path, objects in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cdk8s.Yaml.stringify(*objects), encoding="utf-8")


def check_autoscaling(cluster: ClusterConfig, stack: MonitoringStack,
                      objects: list[dict[str, Any]] | None = None) -> None:
    """Every HPA's metric is served by an adapter rule and its scale target exists (ConfigError if
    not); ``objects`` are the stack's rendered objects when the caller has them already."""
    if objects is None:
        objects = [obj for chart in stack.charts for obj in chart.to_json()]
    hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    if not hpas:
        return  # nothing to check, and matching the rules against the catalogs is not free
    problems = check_hpas(
        hpas,
        [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "ReplicaSet"}],
        stack.adapter.rules,
        catalog.known_metric_names(),
        cluster=cluster.name,
    )
    if problems:
        raise ConfigError(problems)


def warnings(cluster: ClusterConfig) -> list[str]:
    """What synth prints about a cluster that renders but deserves a second look."""
    found = []
    if cluster.spec.adapter.tls.mode == "self-signed":
        found.append(f"cluster {cluster.name}: adapter.tls.mode self-signed makes the API server skip TLS "
                     "verification of the adapter (insecureSkipTLSVerify); use sealed or cert-manager")
    if cluster.spec.alertmanager.goes_nowhere():
        found.append(f"cluster {cluster.name}: alerts go nowhere: no alertmanager.receivers, or no "
                     "alertmanager.routing.critical/warning receiver; see the README's \"Alerts that reach people\"")
    return found


def build_cluster(cluster: ClusterConfig, outdir: Path) -> tuple[list[Rendered], MonitoringStack]:
    """The cluster's stack rendered into its folder (the APIServices into apiservice/), its inputs
    read here, checked; nothing is written or printed (``warnings`` says what to print)."""
    folder = outdir / "clusters" / cluster.name
    app, apiservice_app = cdk8s.App(), cdk8s.App()
    stack = MonitoringStack(app, cluster=cluster, inputs=load_inputs(cluster), apiservice_scope=apiservice_app)
    files = [*render(app.charts, folder, ordered=True),
             *render(apiservice_app.charts, folder / APISERVICE_DIR, ordered=True)]
    check_autoscaling(cluster, stack, [obj for _, objects in files for obj in objects])
    return files, stack


def build_bootstrap(fleet: FleetConfig, cluster_names: list[str], outdir: Path) -> list[Rendered]:
    files = []
    for tool, build, enabled in (("argocd", build_argocd, fleet.argocd.enabled),
                                 ("flux", build_flux, fleet.flux.enabled)):
        if enabled:
            app = cdk8s.App()
            build(app, fleet, cluster_names)
            files += render(app.charts, outdir / "bootstrap" / tool, ordered=False)
    return files


#: Below this many clusters a second process costs more (its own jsii runtime) than it saves.
PARALLEL_FROM = 8
#: Each worker holds a jsii runtime (~150 MiB); past four the parent's writes dominate anyway.
MAX_JOBS = 4


def default_jobs(clusters: int) -> int:
    """Worker processes for ``clusters``: one per core up to ``MAX_JOBS`` for a fleet of
    ``PARALLEL_FROM`` clusters or more, a single process below that."""
    return min(os.cpu_count() or 1, MAX_JOBS) if clusters >= PARALLEL_FROM else 1


#: What synth_clusters reports per cluster: its folder name, the warnings to print about it and
#: the problems that kept it from rendering (none when it was written).
Built = tuple[str, list[str], list[str]]


def synth_clusters(cluster_dirs: list[str], outdir: str) -> list[Built]:
    """Load every given cluster, then build and write them one at a time (a worker holds one
    cluster's objects, never its whole share). Bad input is reported per cluster, not raised: when
    any cluster of the share fails to load, none is built (a typo fails in seconds, not after the
    render); a cluster that fails to build is not written and the others still are."""
    loaded: list[ClusterConfig] = []
    built: list[Built] = []
    for folder in cluster_dirs:
        try:
            loaded.append(load_cluster(Path(folder)))
        except ConfigError as exc:
            built.append((Path(folder).name, [], exc.problems))
    if built:
        return built
    for cluster in loaded:
        try:
            files, _ = build_cluster(cluster, Path(outdir))
        except ConfigError as exc:
            built.append((cluster.name, [], exc.problems))
            continue
        write(files)
        built.append((cluster.name, warnings(cluster), []))
    return built


def render_clusters(folders: list[Path], outdir: Path, *, jobs: int | None = None) -> dict[str, list[str]]:
    """Render the given cluster folders into ``outdir/clusters/``; the warnings per cluster, in folder
    order. With more than one job (default: ``default_jobs``) in worker processes, each with its own
    jsii runtime and one interleaved share of the clusters; the output is the same. Raises one
    ConfigError with the problems of every cluster that failed; what was written is then partial."""
    if not folders:
        return {}
    paths = [str(folder) for folder in folders]
    jobs = min(jobs or default_jobs(len(paths)), len(paths))
    if jobs > 1:
        # spawn, not fork: a forked child would share the parent's jsii runtime pipes.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            shares = list(pool.map(synth_clusters, [paths[i::jobs] for i in range(jobs)], [str(outdir)] * jobs))
    else:
        shares = [synth_clusters(paths, str(outdir))]
    results = {name: (found, problems) for share in shares for name, found, problems in share}
    problems = [p for folder in folders for p in results.get(folder.name, ([], []))[1]]
    if problems:
        raise ConfigError(problems)
    return {folder.name: results[folder.name][0] for folder in folders}


def synth(clusters_dir: Path, outdir: Path, *, jobs: int | None = None) -> list[str]:
    """Render every cluster and the bootstrap objects into ``outdir``; the cluster names.

    The fleet file and the cluster folders are checked before anything renders; bad input raises a
    ConfigError naming every broken cluster, with ``outdir`` partly written (``synth_and_swap``
    renders into a scratch folder and keeps dist/ whole).
    """
    folders, fleet = find_clusters(clusters_dir)
    names = [folder.name for folder in folders]
    found = render_clusters(folders, outdir, jobs=jobs)
    write(build_bootstrap(fleet, names, outdir))
    print_warnings(w for name in names for w in found[name])
    return names
