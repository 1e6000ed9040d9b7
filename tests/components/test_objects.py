"""Objects rendered in Python (promstack.components.objects) are the objects cdk8s renders.

The shipped clusters' dist/ files are guarded byte for byte by the snapshot tests; these tests show
that a component renders the same in a user's plain cdk8s chart (each object a cdk8s ApiObject,
rendered by the jsii runtime calling back) as in promstack's own ObjectChart, that the key
renames of cdk8s' generated bindings are all known, and that synth stays off the jsii runtime.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import cdk8s
import cdk8s_plus_27
import pytest
from cdk8s_plus_27 import k8s
from certmanager_certificates.io.cert_manager import CertificateSpecPrivateKeyAlgorithm
from jsii._kernel.providers.process import _NodeProcess

from promstack import stack as stack_module
from promstack.components import objects
from promstack.components.base import StackContext
from promstack.components.namespace import Namespace
from promstack.components.objects import KubeObject, ObjectChart, RenderError, plain
from promstack.config.cluster import load_cluster
from promstack.config.fleet import load_fleet
from promstack.gitops.synth import build_cluster, render

ROOT = Path(__file__).resolve().parents[2]
CLUSTERS = ("demo", "prod-example", "keda-example")

_TO_JSON = re.compile(r"(?:export )?function toJson_(\w+)\(obj[^)]*\)[^{]*\{(.*?)\n\}", re.S)
_KEY = re.compile(r"'([^']+)': obj\.(\w+)")


def _tarballs() -> list[Path]:
    return [*sorted((Path(cdk8s_plus_27.__file__).parent / "_jsii").glob("*.tgz")),
            *sorted((ROOT / "imports").glob("**/_jsii/*.tgz"))]


def derived_renames() -> dict[str, dict[str, str]]:
    """jsii type (as ``__jsii_type__`` names it) -> {jsii property: JSON key} where they differ."""
    found: dict[str, dict[str, str]] = {}
    for tarball in _tarballs():
        with tarfile.open(tarball) as archive:
            package = archive.extractfile("package/package.json")
            assert package is not None
            name = json.load(package)["name"]
            for member in archive.getmembers():
                # the k8s bindings (lib/imports/k8s.js) and the CRD packages' single module
                if not member.name.endswith(".js") or ("/lib/" in member.name and "imports/k8s.js" not in member.name):
                    continue
                source = archive.extractfile(member)
                assert source is not None
                for struct, body in _TO_JSON.findall(source.read().decode()):
                    for key, prop in _KEY.findall(body):
                        if key != prop:
                            prefix = f"{name}.k8s" if member.name.endswith("imports/k8s.js") else name
                            found.setdefault(f"{prefix}.{struct}", {})[prop] = key
    return found


def test_the_rename_table_is_the_one_of_the_installed_bindings() -> None:
    assert derived_renames() == objects.RENAMES, \
        "the bindings changed: regenerate RENAMES from derived_renames() here"


class _PlainChart(ObjectChart):
    """An ObjectChart that keeps nothing: its components' objects become cdk8s ApiObjects, as in
    any user's chart."""

    def __init__(self, scope: Any, id_: str) -> None:
        super().__init__(scope, id_)
        self.object_items = None  # type: ignore[assignment]

    def objects(self) -> list[dict[str, Any]]:
        rendered: list[dict[str, Any]] = cdk8s.Chart.to_json(self)  # the jsii runtime, calling back
        return rendered


@pytest.mark.parametrize("name", CLUSTERS)
def test_a_stack_renders_the_same_through_cdk8s_apiobjects(name: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, fleet = load_cluster(ROOT / "clusters" / name), load_fleet(ROOT / "clusters")
    fast, _ = build_cluster(cluster, tmp_path, fleet)
    monkeypatch.setattr(stack_module, "ObjectChart", _PlainChart)
    through_cdk8s, stack = build_cluster(cluster, tmp_path, fleet)
    assert all(isinstance(chart, _PlainChart) for chart in stack.charts)
    assert [path for path, _ in through_cdk8s] == [path for path, _ in fast]
    for (path, expected), (_, rendered) in zip(fast, through_cdk8s, strict=True):
        assert rendered == expected, path
        assert cdk8s.Yaml.stringify(*rendered) == cdk8s.Yaml.stringify(*expected), f"{path}: key order"


def test_an_apiobject_a_user_adds_to_an_object_chart_is_rendered_after_the_components() -> None:
    chart = ObjectChart(cdk8s.App(), "user")
    Namespace(chart, context=StackContext(namespace="metrics"))
    cdk8s.ApiObject(chart, "extra", api_version="v1", kind="ConfigMap", metadata=cdk8s.ApiObjectMetadata(name="x"))
    assert [(o["kind"], o["metadata"]["name"]) for o in chart.to_json()] == [("Namespace", "metrics"),
                                                                              ("ConfigMap", "x")]
    assert [o["kind"] for o in chart.objects()] == ["Namespace"], "objects() is promstack's own, without jsii"


def test_two_objects_with_one_id_in_one_scope_are_refused_as_cdk8s_refuses_them() -> None:
    chart = ObjectChart(cdk8s.App(), "user")
    namespace = Namespace(chart)
    with pytest.raises(ValueError, match="already an object with id 'namespace'"):
        KubeObject.of(namespace, "namespace", k8s.KubeNamespaceProps(metadata=k8s.ObjectMeta(name="other")))


def test_values_render_as_cdk8s_renders_them() -> None:
    assert plain({"b": 1.0, "a": None, "c": [k8s.IntOrString.from_string("web"), k8s.Quantity.from_string("1Gi")]}) \
        == {"b": 1, "c": ["web", "1Gi"]}
    # the JSON key of a renamed property, and an enum's JavaScript value (not its Python member name)
    assert plain(k8s.ServiceSpec(cluster_ip="None")) == {"clusterIP": "None"}
    assert plain(CertificateSpecPrivateKeyAlgorithm.ED25519) == "Ed25519"
    with pytest.raises(RenderError, match="function cannot be rendered"):
        plain({"a": lambda: None})


def test_a_cluster_synthesizes_with_a_handful_of_jsii_round_trips(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each round trip costs about half a millisecond: a cluster used to make some 430. What is
    left: the App, the charts and the components (constructs live in the jsii runtime)."""
    cluster, fleet = load_cluster(ROOT / "clusters" / "prod-example"), load_fleet(ROOT / "clusters")
    build_cluster(cluster, tmp_path, fleet)  # warm: per-process caches of IntOrString, GVKs ...
    calls: list[str] = []
    send = _NodeProcess.send

    def counting(self: _NodeProcess, request: Any, response_type: Any) -> Any:
        calls.append(type(request).__name__)
        return send(self, request, response_type)
    monkeypatch.setattr(_NodeProcess, "send", counting)
    files, stack = build_cluster(cluster, tmp_path, fleet)
    objects_rendered = sum(len(rendered) for _, rendered in files)
    assert objects_rendered > 50
    assert set(calls) <= {"CreateRequest"}, calls
    assert len(calls) <= 2 + len(stack.charts) + len(stack.components) + 6, calls


def test_rendering_a_stack_leaves_its_objects_as_they_were(tmp_path: Path) -> None:
    """synth adds ordering annotations to what it writes, not to the objects: a second rendering
    of the same stack gives the same files."""
    cluster, fleet = load_cluster(ROOT / "clusters" / "prod-example"), load_fleet(ROOT / "clusters")
    files, stack = build_cluster(cluster, tmp_path, fleet)
    before = [obj.to_json() for chart in stack.charts for obj in objects.walk(chart.object_items)]
    assert all("argocd.argoproj.io/sync-wave" not in o["metadata"].get("annotations", {}) for o in before)
    assert render([c for c in stack.charts if c not in stack.apiservice_charts], files[0][0].parent) == \
        [f for f in files if f[0].parent == files[0][0].parent]
