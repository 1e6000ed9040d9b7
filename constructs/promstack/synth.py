"""Synthesis: every cluster under clusters/ into <outdir>/clusters/<name>/ (one file per component,
the adapter's APIServices under apiservice/), and the Argo CD / Flux objects into <outdir>/bootstrap/."""

from __future__ import annotations

import os
from pathlib import Path

import cdk8s

from promstack.config import ClusterConfig, load_all
from promstack.delivery import APISERVICE_DIR, build_argocd, build_flux, ordering_annotations
from promstack.fleet import FleetConfig, load_fleet
from promstack.stack import MonitoringStack


def _app(outdir: Path) -> cdk8s.App:
    return cdk8s.App(outdir=str(outdir), output_file_extension=".yaml",
                     yaml_output_type=cdk8s.YamlOutputType.FILE_PER_CHART)


def _annotate_ordering(app: cdk8s.App) -> None:
    """Sync waves and no-prune markers on every object, from its kind (delivery.ordering_annotations)."""
    for construct in app.node.find_all():
        if isinstance(construct, cdk8s.ApiObject):
            for key, value in ordering_annotations(construct.kind).items():
                construct.metadata.add_annotation(key, value)


def build_cluster(cluster: ClusterConfig, outdir: Path) -> tuple[list[cdk8s.App], MonitoringStack]:
    folder = outdir / "clusters" / cluster.name
    apps = [_app(folder), _app(folder / APISERVICE_DIR)]
    stack = MonitoringStack(apps[0], cluster=cluster, apiservice_scope=apps[1])
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


def synth(clusters_dir: Path, outdir: Path) -> list[ClusterConfig]:
    """Load and build everything first, so bad input fails before anything is written."""
    clusters = load_all(clusters_dir)
    fleet = load_fleet(clusters_dir)
    apps = [app for cluster in clusters for app in build_cluster(cluster, outdir)[0]]
    apps += build_bootstrap(fleet, [c.name for c in clusters], outdir)
    for app in apps:
        app.synth()
    return clusters


def default_outdir() -> Path:
    """cdk8s synth passes its output folder in CDK8S_OUTDIR; plain runs write to dist/."""
    return Path(os.environ.get("CDK8S_OUTDIR", "dist"))
