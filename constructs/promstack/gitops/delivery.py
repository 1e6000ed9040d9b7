"""Delivery: the Argo CD and Flux objects that apply each rendered cluster folder to its cluster.

``build_argocd`` and ``build_flux`` each add one Chart (file ``promstack.yaml``) to an App whose
outdir is ``dist/bootstrap/argocd`` or ``dist/bootstrap/flux``. Objects are untyped KubeObjects
(promstack.components.objects) whose spec keeps the key order written here: the Argo CD and Flux
CRDs are large (the ApplicationSet CRD alone is 1.4 MB) and typed bindings for them would add
megabytes to ``imports/`` for a handful of objects; the tests validate these objects against the
CRD schemas instead. A fleet of 1,000 clusters has 2,000 of them: built in Python, not as cdk8s
ApiObjects through the jsii runtime (3.5 s).

Every cluster folder ``<path>/<cluster>`` gets exactly one Argo CD Application (one element of
the ApplicationSet's git directory generator, or one rendered Application in ``applications``
mode) and exactly one pair of Flux Kustomizations; a cluster folder that disappears takes its
delivery objects with it.

Ordering of the adapter's APIService. Registering ``v1beta1.custom.metrics.k8s.io`` before the
adapter serves it makes API discovery fail cluster-wide, so the APIService is applied last.
The stack renders it into a sub-folder of its own, ``<path>/<cluster>/apiservice/``:

- Argo CD reads the cluster folder recursively; the sync wave ``10`` (``ordering_annotations``)
  applies the APIService after the adapter (wave ``0``) is healthy.
- Flux's generated kustomization also includes sub-folders, and the Kustomization CRD has no
  file exclusion (its ``spec.ignore`` only ignores drift in JSON pointer paths; the
  GitRepository's ``spec.ignore`` would need a second source). So the core Kustomization
  ``promstack-<cluster>`` drops every APIService with a targeted ``$patch: delete`` strategic
  merge patch, and ``promstack-<cluster>-apiservice`` applies only the sub-folder, with
  ``dependsOn`` the core one. Both read one GitRepository, so Flux's dependsOn also waits until
  the core has applied the same revision (a new CA reaches the adapter before the APIService
  trusts it), and ``wait: true`` on the core waits for the adapter to be ready.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import cdk8s
from constructs import Construct

from promstack.components.labels import standard_labels
from promstack.components.objects import KubeObject, ObjectChart
from promstack.config.fleet import CLUSTER_PLACEHOLDER, FleetConfig

#: Sub-folder of each cluster folder holding only the adapter's APIService objects.
APISERVICE_DIR = "apiservice"
#: Chart id, hence the file name ``promstack.yaml`` in each bootstrap folder.
CHART_ID = "promstack"

ARGOCD_API = "argoproj.io/v1alpha1"
GIT_REPOSITORY_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1"

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"

#: Argo CD sync wave per kind; kinds not listed are in wave 0. Namespaces first, then
#: identities, configuration, certificates and NetworkPolicies (pods never start unprotected),
#: then workloads, KEDA's ScaledObjects once the workloads and Prometheus they read are healthy,
#: the APIService last. Argo CD prunes in the reverse order (APIService first), so a removed
#: adapter stops being registered before it goes.
SYNC_WAVES: dict[str, int] = {
    "Namespace": -10,
    **dict.fromkeys(
        ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap",
         "Secret", "SealedSecret", "Issuer", "Certificate", "PersistentVolumeClaim", "TriggerAuthentication",
         "NetworkPolicy"),
        -5,
    ),
    **dict.fromkeys(
        ("Deployment", "StatefulSet", "DaemonSet", "Service", "PodDisruptionBudget",
         "HorizontalPodAutoscaler"),
        0,
    ),
    "ScaledObject": 5,
    "APIService": 10,
}
#: Kinds Argo CD prunes only after every wave is applied and healthy. An HPA leaves git when its
#: workload moves to KEDA: pruned last, it is still there when its ScaledObject (wave 5) takes it
#: over, so the workload is never without an autoscaler (README: "Moving from prometheus-adapter to KEDA").
PRUNED_LAST = frozenset({"HorizontalPodAutoscaler"})
#: Kinds neither Argo CD nor Flux may delete when they vanish from dist/ (data and namespaces
#: outlive a rename or a removed cluster; delete them by hand).
NEVER_PRUNED = frozenset({"Namespace", "PersistentVolumeClaim"})

#: Labels of the delivery objects: instance is the cluster they deliver, or "fleet" when shared.
def _labels(instance: str) -> dict[str, str]:
    return standard_labels("promstack", instance, component="delivery")



_SYNC_POLICY: dict[str, Any] = {
    "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
    # The namespace is part of the render; ServerSideApply handles large objects (dashboards).
    "syncOptions": ["ServerSideApply=true", "CreateNamespace=false"],
    "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
}


def ordering_annotations(kind: str) -> dict[str, str]:
    """Annotations every rendered object of ``kind`` carries: its sync wave, pruning last for
    HorizontalPodAutoscalers, and no pruning for Namespaces and PersistentVolumeClaims."""
    annotations = {SYNC_WAVE: str(SYNC_WAVES.get(kind, 0))}
    if kind in PRUNED_LAST:
        annotations[ARGOCD_SYNC_OPTIONS] = "PruneLast=true"
    if kind in NEVER_PRUNED:
        annotations[ARGOCD_SYNC_OPTIONS] = "Prune=false"
        annotations[FLUX_PRUNE] = "disabled"
    return annotations


def _api_object(scope: Construct, *, api_version: str, kind: str, name: str, namespace: str,
                spec: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> KubeObject:
    obj = KubeObject(scope, f"{kind}-{name}", api_version=api_version, kind=kind,
                     metadata={"name": name, "namespace": namespace, "labels": labels or _labels("fleet")})
    obj.put("spec", dict(spec))  # in the order written here, not sorted
    return obj


def _chart(app: cdk8s.App) -> ObjectChart:
    return ObjectChart(app, CHART_ID)


def _check_names(fleet: FleetConfig, cluster_names: Iterable[str]) -> list[str]:
    names = sorted(cluster_names)
    if len(set(names)) != len(names):
        raise ValueError(f"cluster names repeat: {names}")
    return names


def _application_spec(fleet: FleetConfig, *, path: str, destination: Mapping[str, str]) -> dict[str, Any]:
    return {
        "project": fleet.argocd.project,
        "source": {
            "repoURL": fleet.repo_url,
            "targetRevision": fleet.revision,
            "path": path,
            "directory": {"recurse": True},
        },
        "destination": dict(destination),
        "syncPolicy": _SYNC_POLICY,
    }


def build_argocd(app: cdk8s.App, fleet: FleetConfig, cluster_names: list[str]) -> ObjectChart:
    """Argo CD objects in ``fleet.argocd.namespace``.

    ``applicationset`` mode: one ApplicationSet ``promstack`` whose git directory generator
    makes one Application ``<prefix><folder>`` per folder ``<path>/*`` at ``revision`` (the
    rendered ``cluster_names`` are not needed: the folders in git are the truth).
    ``applications`` mode: one Application ``<prefix><cluster>`` per name in ``cluster_names``.
    """
    chart = _chart(app)
    argocd = fleet.argocd
    if argocd.mode == "applicationset":
        template_destination = {
            k: v.replace(CLUSTER_PLACEHOLDER, "{{.path.basename}}")
            for k, v in argocd.destination(CLUSTER_PLACEHOLDER).items()
        }
        _api_object(
            chart, api_version=ARGOCD_API, kind="ApplicationSet", name="promstack", namespace=argocd.namespace,
            spec={
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [{"git": {
                    "repoURL": fleet.repo_url,
                    "revision": fleet.revision,
                    "directories": [{"path": f"{fleet.path}/*"}],
                }}],
                # Deleting the ApplicationSet (or a cluster folder) never deletes a running stack.
                "syncPolicy": {"preserveResourcesOnDeletion": True},
                "template": {
                    "metadata": {
                        "name": f"{argocd.app_name_prefix}{{{{.path.basename}}}}",
                        "labels": _labels("{{.path.basename}}"),
                    },
                    "spec": _application_spec(fleet, path="{{.path.path}}", destination=template_destination),
                },
            },
        )
    else:
        for cluster in _check_names(fleet, cluster_names):
            _api_object(
                chart, api_version=ARGOCD_API, kind="Application", name=f"{argocd.app_name_prefix}{cluster}",
                namespace=argocd.namespace, labels=_labels(cluster),
                spec=_application_spec(fleet, path=fleet.cluster_path(cluster),
                                       destination=argocd.destination(cluster)),
            )
    return chart


def flux_names(cluster: str) -> tuple[str, str]:
    """The names of ``cluster``'s core and APIService Kustomizations."""
    return f"promstack-{cluster}", f"promstack-{cluster}-apiservice"


def build_flux(app: cdk8s.App, fleet: FleetConfig, cluster_names: list[str],
               without_apiservice: Collection[str] = ()) -> ObjectChart:
    """Flux objects in ``fleet.flux.namespace``: one GitRepository ``<sourceName>`` and, per
    cluster, the Kustomizations ``promstack-<cluster>`` (everything but the APIService) and
    ``promstack-<cluster>-apiservice`` (only the APIService, after the core is ready). Clusters in
    ``without_apiservice`` (KEDA: no adapter) render no apiservice/ folder and get no second
    Kustomization, which would otherwise fail on the missing path."""
    chart = _chart(app)
    flux = fleet.flux
    _api_object(
        chart, api_version=GIT_REPOSITORY_API, kind="GitRepository", name=flux.source_name,
        namespace=flux.namespace,
        spec={"url": fleet.repo_url, "ref": {"branch": fleet.revision}, "interval": flux.interval},
    )
    drop_apiservices = {
        "patch": "$patch: delete\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\n"
                 "metadata:\n  name: any\n",
        "target": {"group": "apiregistration.k8s.io", "kind": "APIService"},
    }
    for cluster in _check_names(fleet, cluster_names):
        core, apiservice = flux_names(cluster)
        common: dict[str, Any] = {
            "interval": flux.interval,
            "timeout": flux.timeout,
            "prune": True,
            "wait": True,
            "sourceRef": {"kind": "GitRepository", "name": flux.source_name},
        }
        if flux.kube_config_secret is not None:
            secret = flux.kube_config_secret.replace(CLUSTER_PLACEHOLDER, cluster)
            common["kubeConfig"] = {"secretRef": {"name": secret}}
        labels = _labels(cluster)
        _api_object(
            chart, api_version=KUSTOMIZATION_API, kind="Kustomization", name=core, namespace=flux.namespace,
            labels=labels,
            spec={"path": f"./{fleet.cluster_path(cluster)}", **common, "patches": [drop_apiservices]},
        )
        if cluster in without_apiservice:
            continue
        _api_object(
            chart, api_version=KUSTOMIZATION_API, kind="Kustomization", name=apiservice, namespace=flux.namespace,
            labels=labels,
            spec={"path": f"./{fleet.cluster_path(cluster)}/{APISERVICE_DIR}", **common, "dependsOn": [{"name": core}]},
        )
    return chart
