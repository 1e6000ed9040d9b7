"""`promstack check-autoscaling`: an app team's HPAs and ScaledObjects against a cluster's provider,
one line per problem or an ok line per autoscaler, exit 0 served, 1 problems, 2 bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CLUSTERS, ROOT, Rendered, find
from promstack.cli import main
from promstack.content.autoscaling_cli import prometheus_url

FIX = Path(__file__).parent / "fixtures" / "autoscaling"
PROG = "promstack check-autoscaling"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["check-autoscaling", "--root", str(ROOT), *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


@pytest.fixture
def keda_root(tmp_path: Path) -> Path:
    """A platform repository with one cluster, ``keda``, whose provider is KEDA."""
    folder = tmp_path / "platform" / "clusters" / "keda"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("autoscaling:\n  provider: keda\n")
    return tmp_path / "platform"


def test_a_served_hpa_is_ok_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check(capsys, "--cluster", "demo", str(FIX / "good-hpa.yaml"))
    assert (status, out) == (0, [
        f"{FIX}/good-hpa.yaml: HorizontalPodAutoscaler/shop/web: ok: prometheus-adapter serves "
        "http_requests_per_second"])
    assert err == f"{PROG}: 0 problem(s) in 1 autoscaler(s), cluster demo (autoscaling.provider prometheus-adapter)\n"


def test_a_typo_and_an_external_metric_are_problems_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = check(capsys, "--cluster", "demo", str(FIX / "typo-hpa.yaml"))
    assert (status, out) == (1, [
        f"{FIX}/typo-hpa.yaml: HorizontalPodAutoscaler/shop/api: spec.metrics[0].pods.metric.name: no adapter rule "
        "of cluster demo serves the Pods metric 'http_request_per_second'; did you mean 'http_requests_per_second'? "
        "if your app exports the series it comes from, declare it with --metric SERIES, or ask the platform team for "
        "a rule in adapter.rules",
        f"{FIX}/typo-hpa.yaml: HorizontalPodAutoscaler/shop/api: spec.metrics[1].external.metric.name: the External "
        "metric 'queue_messages_ready' is not served: cluster demo's prometheus-adapter registers "
        "custom.metrics.k8s.io only; use a Pods or Object metric an adapter rule serves"])


def test_the_example_apps_metric_is_served_only_where_the_example_app_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = check(capsys, "--cluster", "prod-example", str(FIX / "good-hpa.yaml"))
    assert status == 1
    assert out[0].endswith("no adapter rule of cluster prod-example serves the Pods metric 'http_requests_per_second'; "
                           "did you mean 'http_requests'? if your app exports the series it comes from, declare it "
                           "with --metric SERIES, or ask the platform team for a rule in adapter.rules")


def test_a_declared_series_is_served_by_the_default_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hpa = (FIX / "good-hpa.yaml").read_text().replace("http_requests_per_second", "shop_orders")
    (tmp_path / "hpa.yaml").write_text(hpa)
    assert check(capsys, "--cluster", "prod-example", str(tmp_path / "hpa.yaml"))[0] == 1
    status, out, _ = check(capsys, "--cluster", "prod-example", "--metric", "shop_orders_total",
                           str(tmp_path / "hpa.yaml"))
    assert (status, out) == (0, [f"{tmp_path}/hpa.yaml: HorizontalPodAutoscaler/shop/web: ok: prometheus-adapter "
                                 "serves shop_orders"])


def test_a_good_scaled_object_on_a_keda_cluster_exits_0(capsys: pytest.CaptureFixture[str], keda_root: Path) -> None:
    status = main(["check-autoscaling", "--root", str(keda_root), "--cluster", "keda",
                   str(FIX / "good-scaledobject.yaml")])
    out, err = capsys.readouterr()
    assert (status, out.splitlines()) == (0, [
        f"{FIX}/good-scaledobject.yaml: ScaledObject/shop/worker: ok: 1 prometheus trigger(s) checked (query, "
        "threshold, serverAddress); 1 other trigger(s) not checked"])
    assert err == f"{PROG}: 0 problem(s) in 1 autoscaler(s), cluster keda (autoscaling.provider keda)\n"


def test_a_per_pod_query_a_foreign_server_and_no_threshold_are_problems(
        capsys: pytest.CaptureFixture[str], keda_root: Path) -> None:
    status = main(["check-autoscaling", "--root", str(keda_root), "--cluster", "keda", str(FIX / "per-pod-query.yaml")])
    where = f"{FIX}/per-pod-query.yaml: ScaledObject/shop/worker: spec.triggers[0].metadata"
    assert (status, capsys.readouterr().out.splitlines()) == (1, [
        f"{where}.serverAddress: points at 'http://prometheus.observability.svc:9090', not cluster keda's Prometheus; "
        "use http://prometheus.monitoring.svc:9090",
        f"{where}.query: the query sum by (pod) returns one series per pod, but a scaler needs one value; drop by "
        "(pod) so sum(...) returns one series",
        f"{where}.threshold: missing; KEDA requires it: the query's value per replica, e.g. '10'"])


def test_a_too_short_window_and_a_typo_in_a_list_item(capsys: pytest.CaptureFixture[str], keda_root: Path) -> None:
    status = main(["check-autoscaling", "--root", str(keda_root), "--cluster", "keda", "--metric",
                   "shop_orders_total", str(FIX / "short-window.yaml")])
    where = f"{FIX}/short-window.yaml: ScaledObject/shop/orders: items[0].spec.triggers[0].metadata.query"
    assert (status, capsys.readouterr().out.splitlines()) == (1, [
        f"{where}: metric 'shop_orders_totl' is exported by no component of the stack; did you mean "
        "'shop_orders_total'? correct the name, or declare your app's own metric with --metric SERIES",
        f"{where}: the range [30s] over 'shop_orders_totl' is shorter than twice the scrape interval (30s), so it "
        "often holds fewer than two samples and rate() and friends return nothing; use at least [1m]"])


def test_an_hpa_on_custom_metrics_is_not_served_on_a_keda_cluster(
        capsys: pytest.CaptureFixture[str], keda_root: Path) -> None:
    status = main(["check-autoscaling", "--root", str(keda_root), "--cluster", "keda", str(FIX / "good-hpa.yaml")])
    assert (status, capsys.readouterr().out.splitlines()) == (1, [
        f"{FIX}/good-hpa.yaml: HorizontalPodAutoscaler/shop/web: spec.metrics[0].pods.metric.name: cluster keda "
        "scales with KEDA (autoscaling.provider: keda) and runs no prometheus-adapter, so nothing serves the Pods "
        "metric 'http_requests_per_second'; replace this HPA with a KEDA ScaledObject with a prometheus trigger"])


def test_a_scaled_object_is_not_served_on_an_adapter_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = check(capsys, "--cluster", "demo", str(FIX / "good-scaledobject.yaml"))
    assert (status, out) == (1, [
        f"{FIX}/good-scaledobject.yaml: ScaledObject/shop/worker: kind: cluster demo's autoscaling.provider is "
        "prometheus-adapter, which runs no KEDA, so nothing acts on a ScaledObject; use an autoscaling/v2 HPA on a "
        "metric an adapter rule serves, or ask the platform team to switch the cluster to keda"])


def test_a_workload_with_an_hpa_and_a_scaled_object_is_a_problem(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, keda_root: Path) -> None:
    hpa = (FIX / "good-hpa.yaml").read_text().replace("http_requests_per_second", "x").replace(
        "type: Pods", "type: Resource").replace("pods:", "resource:")
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.yaml").write_text(hpa + "---\n" + (FIX / "good-scaledobject.yaml").read_text().replace(
        "name: worker}", "name: web}"))
    status = main(["check-autoscaling", "--root", str(keda_root), "--cluster", "keda", str(app)])
    assert (status, capsys.readouterr().out.splitlines()) == (1, [
        f"{app}/app.yaml: HorizontalPodAutoscaler/shop/web: ok: no custom metrics: CPU and memory come from "
        "metrics-server",
        f"{app}/app.yaml: ScaledObject/shop/worker: spec.scaleTargetRef: Deployment shop/web is already scaled "
        "by HorizontalPodAutoscaler shop/web; two autoscalers fight over its replicas: keep one (a ScaledObject "
        "creates its own HPA)"])


@pytest.mark.parametrize(("args", "expected"), [
    (["--cluster", "demo", str(FIX / "malformed.yaml")],
     f"{FIX}/malformed.yaml:4:12: invalid YAML: did not find expected ',' or '}}'; fix the YAML there"),
    (["--cluster", "demo", str(FIX / "not-a-manifest.yaml")],
     f"{FIX}/not-a-manifest.yaml: document 1: not a Kubernetes object (no apiVersion and kind); give only Kubernetes "
     "manifests, e.g. the folder of your HPAs and ScaledObjects"),
    (["--cluster", "demo", str(FIX / "missing.yaml")], f"{FIX}/missing.yaml: no such file or folder: check the path"),
    (["--cluster", "dmeo", str(FIX / "good-hpa.yaml")],
     f"{CLUSTERS}/dmeo/cluster.yaml: no cluster 'dmeo'; did you mean 'demo'? give --cluster one of: demo, "
     "keda-example, prod-example"),
])
def test_bad_input_is_one_line_naming_the_file_and_exits_2(
        capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    status, out, err = check(capsys, *args)
    assert (status, out, err) == (2, [], f"{PROG}: error: {expected}\n")


def test_a_root_without_clusters_names_the_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["check-autoscaling", "--root", str(tmp_path), "--cluster", "demo", str(FIX / "good-hpa.yaml")])
    assert status == 2
    assert capsys.readouterr().err == (f"{PROG}: error: {tmp_path}/clusters: no such folder; run from the platform "
                                       "repository or give its folder with --root\n")


def test_a_file_without_autoscalers_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    status, out, err = check(capsys, "--cluster", "demo", str(tmp_path))
    assert (status, out, err) == (2, [], f"{PROG}: error: {tmp_path}: no HorizontalPodAutoscaler or KEDA ScaledObject "
                                          "found; give the files or folders that hold them\n")


def test_the_server_address_it_expects_is_the_rendered_prometheus_service(rendered: list[Rendered]) -> None:
    service = find(rendered, "demo", "Service", "prometheus")
    port = service["spec"]["ports"][0]["port"]
    assert prometheus_url(service["metadata"]["namespace"]) == (
        f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port}")


def test_the_readme_recipe_runs_from_an_app_repository(tmp_path: Path) -> None:
    """As the README's CI recipe: the installed command, run in the app repository, the platform at --root."""
    shutil.copytree(FIX.parent / "autoscaling", tmp_path / "k8s", ignore=shutil.ignore_patterns("malformed.yaml",
                                                                                               "not-a-manifest.yaml"))
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "promstack"), "check-autoscaling", "--root", str(ROOT),
                             "--cluster", "demo", "k8s/good-hpa.yaml"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout) == (
        0, "k8s/good-hpa.yaml: HorizontalPodAutoscaler/shop/web: ok: prometheus-adapter serves "
           "http_requests_per_second\n")


def test_the_readme_shows_the_output_as_it_is(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Checking an app team's autoscalers"):]
    sample = section[section.index("```\nk8s/") + 4:]
    sample = sample[:sample.index("```")]
    (tmp_path / "k8s").mkdir()
    typo = (FIX / "typo-hpa.yaml").read_text()
    (tmp_path / "k8s" / "hpa.yaml").write_text(
        (FIX / "good-hpa.yaml").read_text() + "---\n" + typo[:typo.index("  - type: External")])
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "promstack"), "check-autoscaling", "--root", str(ROOT),
                             "--cluster", "demo", "k8s"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1
    assert result.stdout + result.stderr == sample


def test_a_cluster_file_with_an_error_is_bad_input_with_its_config_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "broken"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").write_text("autoscaling:\n  provider: kedaa\n")
    status = main(["check-autoscaling", "--root", str(tmp_path), "--cluster", "broken", str(FIX / "good-hpa.yaml")])
    assert status == 2
    assert capsys.readouterr().err == (f"{PROG}: error: {folder}/cluster.yaml: autoscaling.provider: must be "
                                       "'prometheus-adapter' or 'keda'\n")
