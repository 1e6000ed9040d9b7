"""Synthesis: every cluster under clusters/ into <outdir>/clusters/<name>/ (one file per component,
the adapter's APIServices under apiservice/), and the Argo CD / Flux objects into <outdir>/bootstrap/."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Collection, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cdk8s

from promstack.components import example_app
from promstack.components.objects import ObjectChart
from promstack.config import hardening
from promstack.config.cluster import ClusterConfig, load_cluster
from promstack.config.fleet import FLEET_FILE, FleetConfig, load_fleet
from promstack.config.inputs import load_inputs
from promstack.config.model import ConfigError, show_path
from promstack.content import catalog
from promstack.content.autoscaling_check import scaling_problems
from promstack.content.hpa_check import check_hpas, check_pod_metrics, check_scaled_objects
from promstack.gitops import emit
from promstack.gitops.delivery import APISERVICE_DIR, build_argocd, build_flux, ordering_annotations
from promstack.gitops.incremental import find_clusters, print_warnings, without_adapter
from promstack.stack import MonitoringStack, adapter_rules

#: One rendered file: where it goes and the objects in it, as the cluster will see them.
Rendered = tuple[Path, list[dict[str, Any]]]


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its kind's sync wave and no-prune markers (delivery.ordering_annotations) and
    the checkov skips of its declared hardening exceptions (hardening.checkov_annotations), its
    metadata keys sorted as cdk8s writes them. A new object: ``obj`` (a KubeObject's rendering,
    which shares its metadata) is left as it is."""
    extra = {**ordering_annotations(str(obj.get("kind", ""))), **hardening.checkov_annotations(obj)}
    if not extra:
        return obj
    metadata = {**obj.get("metadata", {})}
    metadata["annotations"] = dict(sorted({**metadata.get("annotations", {}), **extra}.items()))
    return {**obj, "metadata": dict(sorted(metadata.items()))}


def render(charts: Iterable[ObjectChart], folder: Path, *, ordered: bool = True) -> list[Rendered]:
    """Each chart as the file cdk8s would write for it, ``<folder>/<chart id>.yaml``, with the
    ordering annotations when ``ordered`` (a stack's, not the bootstrap's): no call into the jsii
    runtime (promstack.components.objects)."""
    return [(folder / f"{chart.chart_id}.yaml", [_ordered(o) for o in chart.objects()] if ordered else chart.objects())
            for chart in charts]


def write(files: Iterable[Rendered]) -> None:
    """Write rendered files as `cdk8s synth` writes them: with the pure-Python emitter, which
    gives cdk8s' bytes without a round trip into the jsii runtime per file, or with cdk8s' own
    writer for a file holding a value the emitter is not proven on (emit.Unproven)."""
    for path, objects in files:
        try:
            text = emit.stringify(objects)
        except emit.Unproven:
            text = cdk8s.Yaml.stringify(*objects)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def check_targets(cluster: ClusterConfig) -> None:
    """Under KEDA, every podMetric of the cluster's targets has an adapter rule to take its query
    from (ConfigError if not): checked before the stack is built."""
    if cluster.spec.autoscaling.provider != "keda":
        return
    spec = cluster.spec
    targets = [*([("exampleApp", example_app.scaling_target(spec.example_app))] if spec.example_app.enabled else []),
               *((f"autoscaling.targets[{i}]", target) for i, target in enumerate(spec.autoscaling.targets))]
    problems = check_pod_metrics(targets, adapter_rules(cluster), catalog.known_metric_names(),
                                 source=show_path(cluster.file))
    if problems:
        raise ConfigError(problems)


def check_autoscaling(cluster: ClusterConfig, stack: MonitoringStack,
                      objects: list[dict[str, Any]] | None = None) -> None:
    """Under prometheus-adapter every HPA's metric is served by an adapter rule; under KEDA every
    ScaledObject queries the stack's Prometheus with PromQL that parses; either way each target
    the stack renders exists and no workload has two autoscalers (ConfigError if not).
    ``objects`` are the stack's rendered objects when the caller has them already."""
    if objects is None:
        objects = [obj for chart in stack.charts for obj in chart.objects()]
    workloads = [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "ReplicaSet"}]
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    problems = check_hpas(
        [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"],
        workloads,
        stack.adapter.rules if stack.adapter else stack.adapter_rules,
        catalog.known_metric_names(),
        cluster=cluster.name,
        namespaces=namespaces,
    )
    problems += check_scaled_objects(
        [o for o in objects if o["kind"] == "ScaledObject"], workloads,
        server_address=stack.prometheus.service_url, cluster=cluster.name, namespaces=namespaces,
    )
    rendered = {(w["kind"], w["metadata"].get("namespace"), w["metadata"]["name"]) for w in workloads}
    for i, target in enumerate(cluster.spec.autoscaling.targets):
        ref = target.workload
        if not target.external and (ref.kind, ref.namespace, ref.name) not in rendered:
            problems.append(f"{show_path(cluster.file)}: autoscaling.targets[{i}].workload: {ref.kind} "
                            f"{ref.namespace}/{ref.name} is not rendered by this stack; correct the reference, or "
                            "set external: true if the workload is deployed from elsewhere (an app's repository)")
    problems += scaling_problems(  # an HPA and a ScaledObject on one workload fight over its replicas
        [o for o in objects if o["kind"] in {"HorizontalPodAutoscaler", "ScaledObject"}], None,
        where=lambda o: f"cluster {cluster.name}: {o['kind']} {o['metadata'].get('namespace')}/{o['metadata']['name']}")
    if problems:
        raise ConfigError(problems)


def warnings(cluster: ClusterConfig) -> list[str]:
    """What synth prints about a cluster that renders but deserves a second look."""
    found = []
    if cluster.spec.adapter.tls.mode == "self-signed" and cluster.spec.autoscaling.renders_adapter:
        found.append(f"cluster {cluster.name}: adapter.tls.mode self-signed makes the API server skip TLS "
                     "verification of the adapter (insecureSkipTLSVerify); use sealed or cert-manager")
    for ui, exposure in (("prometheus", cluster.spec.prometheus.exposure),
                         ("alertmanager", cluster.spec.alertmanager.exposure)):
        if exposure.exposed and exposure.auth == "none":
            found.append(f"cluster {cluster.name}: {ui}.exposure.auth none: {ui} is reachable from outside the cluster "
                         f"(type {exposure.type}) with no login; seal basic auth with `promstack seal-web-auth` and "
                         "drop auth: none")
    logins = {"grafana": True, "prometheus": cluster.spec.prometheus.exposure.basic_auth,
              "alertmanager": cluster.spec.alertmanager.exposure.basic_auth}
    for ui, ui_exposure in (("prometheus", cluster.spec.prometheus.exposure),
                            ("grafana", cluster.spec.grafana.exposure),
                            ("alertmanager", cluster.spec.alertmanager.exposure)):
        if ui_exposure.type == "nodePort" and logins[ui]:
            found.append(f"cluster {cluster.name}: {ui}.exposure.type nodePort: its login crosses the network in "
                         "plain HTTP; use type ingress or gateway, with TLS")
    if cluster.spec.alertmanager.goes_nowhere():
        found.append(f"cluster {cluster.name}: alerts go nowhere: no alertmanager.receivers, or no "
                     "alertmanager.routing.critical/warning receiver; see the README's \"Alerts that reach people\"")
    return found


def build_cluster(cluster: ClusterConfig, outdir: Path,
                  fleet: FleetConfig | None = None) -> tuple[list[Rendered], MonitoringStack]:
    """The cluster's stack rendered into its folder (the APIServices into apiservice/), its inputs
    read here, checked; nothing is written or printed (``warnings`` says what to print). ``fleet``
    (its hub, its registry mirror): clusters/fleet.yaml beside the cluster's folder when not given,
    none when there is no such file (a cluster rendered on its own)."""
    folder = outdir / "clusters" / cluster.name
    check_targets(cluster)
    app, apiservice_app = cdk8s.App(), cdk8s.App()
    if fleet is None and (cluster.path.parent / FLEET_FILE).exists():
        fleet = load_fleet(cluster.path.parent)
    hub = fleet.hub if fleet else None  # the fleet's store, if any: Grafana's fleet datasource, agent mode
    stack = MonitoringStack(app, cluster=cluster, inputs=load_inputs(cluster, hub), apiservice_scope=apiservice_app,
                            registry_mirror=fleet.registry_mirror if fleet else None, hub=hub)
    files = [*render([c for c in stack.charts if c not in stack.apiservice_charts], folder),
             *render(stack.apiservice_charts, folder / APISERVICE_DIR)]
    check_autoscaling(cluster, stack, [obj for _, objects in files for obj in objects])
    return files, stack


def build_bootstrap(fleet: FleetConfig, cluster_names: list[str], outdir: Path,
                    without_apiservice: Collection[str] = ()) -> list[Rendered]:
    """The Argo CD and Flux objects that deliver ``cluster_names``; those in ``without_apiservice``
    render no apiservice/ folder (KEDA clusters)."""
    files = []
    if fleet.argocd.enabled:
        files += render([build_argocd(cdk8s.App(), fleet, cluster_names)], outdir / "bootstrap" / "argocd",
                        ordered=False)
    if fleet.flux.enabled:
        files += render([build_flux(cdk8s.App(), fleet, cluster_names, without_apiservice)],
                        outdir / "bootstrap" / "flux", ordered=False)
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
    fleets: dict[Path, FleetConfig | None] = {}
    for cluster in loaded:
        try:
            where = cluster.path.parent
            if where not in fleets:
                fleets[where] = load_fleet(where) if (where / FLEET_FILE).exists() else None
            files, _ = build_cluster(cluster, Path(outdir), fleets[where])
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
    write(build_bootstrap(fleet, names, outdir, without_adapter(folders)))
    print_warnings(w for name in names for w in found[name])
    return names
