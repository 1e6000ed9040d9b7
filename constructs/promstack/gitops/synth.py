"""Synthesis: every cluster under clusters/ into <outdir>/clusters/<name>/ (one file per component,
the adapter's APIServices under apiservice/), and the Argo CD / Flux objects into <outdir>/bootstrap/."""

from __future__ import annotations

import errno
import fcntl
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cdk8s

from promstack.config.cluster import ClusterConfig, load_all, load_cluster
from promstack.config.fleet import FleetConfig, load_fleet
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError
from promstack.content import catalog
from promstack.content.hpa_check import check_hpas
from promstack.gitops.delivery import APISERVICE_DIR, build_argocd, build_flux, ordering_annotations
from promstack.stack import MonitoringStack


def _app(outdir: Path) -> cdk8s.App:
    return cdk8s.App(outdir=str(outdir), output_file_extension=".yaml",
                     yaml_output_type=cdk8s.YamlOutputType.FILE_PER_CHART)


def _annotate_ordering(app: cdk8s.App) -> None:
    """Sync waves and no-prune markers on every object, from its kind (delivery.ordering_annotations)."""
    kinds: dict[type, str] = {}  # an L1 class has one kind: ask the jsii runtime once per class
    for construct in app.node.find_all():
        if isinstance(construct, cdk8s.ApiObject):
            cls = type(construct)
            # A generated L1 class has one kind; a plain ApiObject may have any.
            plain = cls is cdk8s.ApiObject
            kind = construct.kind if plain else kinds.get(cls) or kinds.setdefault(cls, construct.kind)
            metadata = construct.metadata
            for key, value in ordering_annotations(kind).items():
                metadata.add_annotation(key, value)


def check_autoscaling(cluster: ClusterConfig, stack: MonitoringStack) -> None:
    """Every HPA's metric is served by an adapter rule and its scale target exists (ConfigError if not)."""
    objects = [obj for chart in stack.charts for obj in chart.to_json()]
    problems = check_hpas(
        [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"],
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


def build_cluster(cluster: ClusterConfig, outdir: Path) -> tuple[list[cdk8s.App], MonitoringStack]:
    """The cluster's stack in two apps (its folder and apiservice/), its inputs read here, checked."""
    folder = outdir / "clusters" / cluster.name
    apps = [_app(folder), _app(folder / APISERVICE_DIR)]
    stack = MonitoringStack(apps[0], cluster=cluster, inputs=load_inputs(cluster), apiservice_scope=apps[1])
    check_autoscaling(cluster, stack)
    for warning in warnings(cluster):
        print(f"promstack: warning: {warning}", file=sys.stderr)
    for app in apps:
        _annotate_ordering(app)
    return apps, stack


def build_bootstrap(fleet: FleetConfig, cluster_names: list[str], outdir: Path) -> list[cdk8s.App]:
    apps = []
    for tool, build, enabled in (("argocd", build_argocd, fleet.argocd.enabled),
                                 ("flux", build_flux, fleet.flux.enabled)):
        if enabled:
            app = _app(outdir / "bootstrap" / tool)
            build(app, fleet, cluster_names)
            apps.append(app)
    return apps


#: Below this many clusters a second process costs more (its own jsii runtime) than it saves.
PARALLEL_FROM = 8
#: Each worker holds a jsii runtime (~150 MiB); past four the parent's writes dominate anyway.
MAX_JOBS = 4


def default_jobs(clusters: int) -> int:
    """Worker processes for ``clusters``: one per core up to ``MAX_JOBS`` for a fleet of
    ``PARALLEL_FROM`` clusters or more, a single process below that."""
    return min(os.cpu_count() or 1, MAX_JOBS) if clusters >= PARALLEL_FROM else 1


def synth_clusters(cluster_dirs: list[str], outdir: str) -> None:
    """Build every given cluster, then write them: a build error leaves this batch unwritten."""
    apps = [app for folder in cluster_dirs for app in build_cluster(load_cluster(Path(folder)), Path(outdir))[0]]
    for app in apps:
        app.synth()


def synth(clusters_dir: Path, outdir: Path, *, jobs: int | None = None) -> list[ClusterConfig]:
    """Render every cluster and the bootstrap objects into ``outdir``.

    Every cluster file and the fleet file are validated before anything is written. With more
    than one job (default: ``default_jobs``) clusters are built in worker processes, each with
    its own jsii runtime, one interleaved share of the clusters each; the output is the same.
    """
    clusters = load_all(clusters_dir)
    fleet = load_fleet(clusters_dir)
    bootstrap = build_bootstrap(fleet, [c.name for c in clusters], outdir)
    folders = [str(c.path) for c in clusters]
    jobs = min(jobs or default_jobs(len(clusters)), len(clusters))
    if jobs > 1:
        # spawn, not fork: a forked child would share the parent's jsii runtime pipes.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(synth_clusters, [folders[i::jobs] for i in range(jobs)], [str(outdir)] * jobs))
    else:
        synth_clusters(folders, str(outdir))
    for app in bootstrap:
        app.synth()
    return clusters


@contextmanager
def exclusive(lock_file: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an flock on ``lock_file`` (created, never deleted); ``on_wait`` runs if another holder makes us wait."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the process dies


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (which must not exist); copy and delete across file systems."""
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(src, dst, symlinks=True)
        shutil.rmtree(src)


def synth_and_swap(clusters_dir: Path, dist: Path, *, build_dir: Path, copy_to: Path | None = None,
                   jobs: int | None = None, on_wait: Callable[[], None] | None = None) -> list[ClusterConfig]:
    """Render every cluster into a new folder under ``build_dir`` and, only if the whole run
    succeeded, put it in place of ``dist``: bad input or a crash leaves ``dist`` as it was.

    Runs that share ``build_dir`` take turns (an flock on ``build_dir/synth.lock``) and each renders
    into its own temporary folder, so concurrent runs never share a scratch folder or interleave
    their swaps. ``copy_to`` also gets a copy of the render (the cdk8s CLI lists its output folder).
    """
    with exclusive(build_dir / "synth.lock", on_wait):
        work = Path(tempfile.mkdtemp(prefix="synth-", dir=build_dir))
        try:
            rendered = work / "dist"
            rendered.mkdir()
            clusters = synth(clusters_dir, rendered, jobs=jobs)
            if copy_to is not None:
                shutil.copytree(rendered, copy_to, dirs_exist_ok=True)
            previous = work / "previous"
            if dist.exists():
                _move(dist, previous)
            try:
                _move(rendered, dist)
            except BaseException:
                if previous.exists() and not dist.exists():
                    _move(previous, dist)
                raise
            return clusters
        finally:
            shutil.rmtree(work, ignore_errors=True)
