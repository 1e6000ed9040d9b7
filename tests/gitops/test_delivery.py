"""Argo CD and Flux bootstrap objects: valid against their CRDs, one per cluster, nothing stale."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import cdk8s
import jsonschema
import pytest
import yaml

from conftest import ROOT
from promstack.config.fleet import FleetConfig
from promstack.gitops.delivery import (
    APISERVICE_DIR,
    SYNC_WAVES,
    build_argocd,
    build_flux,
    flux_names,
    ordering_annotations,
)

CRDS = ROOT / "crds"
CLUSTERS = ["demo", "prod-example", "edge-1"]
REPO = "https://git.example.com/platform/promstack.git"


def fleet(**argocd: Any) -> FleetConfig:
    return FleetConfig.model_validate({"repoURL": REPO, "argocd": argocd})


def render(build: Any, config: FleetConfig, clusters: list[str]) -> list[dict[str, Any]]:
    app = cdk8s.App()
    build(app, config, clusters)
    return [obj for chart in app.charts for obj in chart.to_json()]


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for file in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(file.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                api = f"{crd['spec']['group']}/{version['name']}"
                schemas[(api, crd["spec"]["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def all_objects() -> list[dict[str, Any]]:
    return (render(build_argocd, fleet(), CLUSTERS) + render(build_argocd, fleet(mode="applications"), CLUSTERS)
            + render(build_argocd, fleet(destinationName="{cluster}"), CLUSTERS)
            + render(build_flux, FleetConfig.model_validate(
                {"repoURL": REPO, "flux": {"kubeConfigSecret": "{cluster}-kubeconfig"}}), CLUSTERS)
            + render(build_flux, fleet(), CLUSTERS))


@pytest.mark.parametrize("obj", all_objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_valid_against_crd_schema(obj: dict[str, Any]) -> None:
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    jsonschema.validate(obj, schema)


def test_schema_check_catches_mistakes() -> None:
    bad = render(build_flux, fleet(), ["demo"])[1]
    bad["spec"]["prune"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, crd_schemas()[(bad["apiVersion"], bad["kind"])])


def test_applicationset_generator_matches_dist_layout(out_dir: Path) -> None:
    """The generator's `<path>/*` matches exactly the rendered cluster folders (path dist/clusters)."""
    (appset,) = render(build_argocd, fleet(), CLUSTERS)
    (generator,) = appset["spec"]["generators"]
    pattern = generator["git"]["directories"][0]["path"]
    assert pattern == "dist/clusters/*"
    rendered = sorted(p.name for p in (out_dir / "clusters").iterdir() if p.is_dir())
    matched = sorted(p.name for p in out_dir.glob(pattern.removeprefix("dist/")) if p.is_dir())
    assert matched == rendered and rendered
    template = appset["spec"]["template"]
    assert template["metadata"]["name"] == "promstack-{{.path.basename}}"
    assert template["spec"]["source"]["path"] == "{{.path.path}}"
    assert template["spec"]["source"]["directory"] == {"recurse": True}
    assert appset["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}


def test_destination_name_template() -> None:
    (appset,) = render(build_argocd, fleet(destinationName="{cluster}"), CLUSTERS)
    assert appset["spec"]["template"]["spec"]["destination"] == {"name": "{{.path.basename}}"}
    apps = render(build_argocd, fleet(mode="applications", destinationName="k8s-{cluster}"), CLUSTERS)
    assert [a["spec"]["destination"] for a in apps] == [{"name": f"k8s-{c}"} for c in sorted(CLUSTERS)]


def test_one_application_per_cluster() -> None:
    apps = render(build_argocd, fleet(mode="applications"), CLUSTERS)
    assert sorted(a["metadata"]["name"] for a in apps) == sorted(f"promstack-{c}" for c in CLUSTERS)
    assert {a["kind"] for a in apps} == {"Application"}
    assert sorted(a["spec"]["source"]["path"] for a in apps) == sorted(f"dist/clusters/{c}" for c in CLUSTERS)
    sync = apps[0]["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True, "allowEmpty": False}
    assert sync["syncOptions"] == ["ServerSideApply=true", "CreateNamespace=false"]


def test_one_kustomization_pair_per_cluster() -> None:
    objs = render(build_flux, fleet(), CLUSTERS)
    (source,) = [o for o in objs if o["kind"] == "GitRepository"]
    assert source["spec"] == {"url": REPO, "ref": {"branch": "main"}, "interval": "5m"}
    kustomizations = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "Kustomization"}
    assert len(kustomizations) == 2 * len(CLUSTERS)
    for cluster in CLUSTERS:
        core, apiservice = flux_names(cluster)
        assert kustomizations[core]["path"] == f"./dist/clusters/{cluster}"
        assert kustomizations[core]["patches"][0]["target"] == {"group": "apiregistration.k8s.io", "kind": "APIService"}
        assert "$patch: delete" in kustomizations[core]["patches"][0]["patch"]
        assert kustomizations[apiservice]["path"] == f"./dist/clusters/{cluster}/{APISERVICE_DIR}"
        assert kustomizations[apiservice]["dependsOn"] == [{"name": core}]
        assert "patches" not in kustomizations[apiservice]
        for spec in (kustomizations[core], kustomizations[apiservice]):
            assert spec["sourceRef"] == {"kind": "GitRepository", "name": "promstack"}
            assert (spec["prune"], spec["wait"], spec["timeout"]) == (True, True, "5m")


@pytest.mark.parametrize("build", [build_flux, build_argocd])
def test_removing_a_cluster_removes_its_objects(build: Any) -> None:
    config = fleet(mode="applications")
    before = render(build, config, CLUSTERS)
    after = render(build, config, [c for c in CLUSTERS if c != "edge-1"])
    removed = [o["metadata"]["name"] for o in before if o not in after]
    assert removed and all("edge-1" in name for name in removed)
    assert not any("edge-1" in yaml.safe_dump(o) for o in after)


def test_ordering_annotations() -> None:
    assert ordering_annotations("Namespace") == {
        "argocd.argoproj.io/sync-wave": "-10",
        "argocd.argoproj.io/sync-options": "Prune=false",
        "kustomize.toolkit.fluxcd.io/prune": "disabled",
    }
    assert ordering_annotations("PersistentVolumeClaim")["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    assert ordering_annotations("SealedSecret") == {"argocd.argoproj.io/sync-wave": "-5"}
    assert ordering_annotations("Deployment") == {"argocd.argoproj.io/sync-wave": "0"}
    assert ordering_annotations("APIService") == {"argocd.argoproj.io/sync-wave": "10"}
    assert SYNC_WAVES["APIService"] > max(v for k, v in SYNC_WAVES.items() if k != "APIService")
    # KEDA: authentication with the configuration, ScaledObjects once the workloads they scale are up,
    # and HPAs pruned only after them, so a ScaledObject takes over an HPA that is still there.
    assert ordering_annotations("TriggerAuthentication") == {"argocd.argoproj.io/sync-wave": "-5"}
    assert ordering_annotations("ScaledObject") == {"argocd.argoproj.io/sync-wave": "5"}
    assert SYNC_WAVES["Deployment"] < SYNC_WAVES["ScaledObject"] < SYNC_WAVES["APIService"]
    assert ordering_annotations("HorizontalPodAutoscaler") == {"argocd.argoproj.io/sync-wave": "0",
                                                               "argocd.argoproj.io/sync-options": "PruneLast=true"}


def test_a_cluster_without_the_adapter_gets_no_apiservice_kustomization() -> None:
    app = cdk8s.App()
    build_flux(app, fleet(), CLUSTERS, without_apiservice=["edge-1"])
    names = {o["metadata"]["name"] for chart in app.charts for o in chart.to_json() if o["kind"] == "Kustomization"}
    # Its apiservice/ folder is never rendered: a Kustomization on it would fail on the missing path.
    assert names == {*flux_names("demo"), *flux_names("prod-example"), flux_names("edge-1")[0]}


def test_the_shipped_keda_cluster_has_no_apiservice_folder_nor_kustomization(out_dir: Path) -> None:
    assert not (out_dir / "clusters" / "keda-example" / APISERVICE_DIR).exists()
    assert (out_dir / "clusters" / "demo" / APISERVICE_DIR).is_dir()
    flux = list(yaml.safe_load_all((out_dir / "bootstrap" / "flux" / "promstack.yaml").read_text()))
    names = {o["metadata"]["name"] for o in flux if o["kind"] == "Kustomization"}
    assert flux_names("keda-example")[0] in names and flux_names("keda-example")[1] not in names
    assert flux_names("demo")[1] in names


def test_synth_writes_one_file_per_tool(tmp_path: Path) -> None:
    for tool, build in (("argocd", build_argocd), ("flux", build_flux)):
        app = cdk8s.App(outdir=str(tmp_path / tool), output_file_extension=".yaml",
                        yaml_output_type=cdk8s.YamlOutputType.FILE_PER_CHART)
        build(app, fleet(), CLUSTERS)
        app.synth()
        assert [p.name for p in (tmp_path / tool).iterdir()] == ["promstack.yaml"]
