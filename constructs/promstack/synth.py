"""Synthesis: every cluster under clusters/ into <outdir>/clusters/<name>/, one file per component."""

from __future__ import annotations

import os
from pathlib import Path

import cdk8s

from promstack.config import ClusterConfig, load_all
from promstack.stack import MonitoringStack


def build_app(cluster: ClusterConfig, outdir: Path) -> tuple[cdk8s.App, MonitoringStack]:
    app = cdk8s.App(
        outdir=str(outdir / "clusters" / cluster.name),
        output_file_extension=".yaml",
        yaml_output_type=cdk8s.YamlOutputType.FILE_PER_CHART,
    )
    return app, MonitoringStack(app, cluster=cluster)


def synth(clusters_dir: Path, outdir: Path) -> list[ClusterConfig]:
    """Load and validate every cluster first, so bad input fails before anything is written."""
    clusters = load_all(clusters_dir)
    apps = [build_app(cluster, outdir)[0] for cluster in clusters]
    for app in apps:
        app.synth()
    return clusters


def default_outdir() -> Path:
    """cdk8s synth passes its output folder in CDK8S_OUTDIR; plain runs write to dist/."""
    return Path(os.environ.get("CDK8S_OUTDIR", "dist"))
