"""``images:`` in cluster.yaml and ``registryMirror`` in fleet.yaml: which image each component runs.

Every image defaults to the one pinned in promstack.config.versions. A cluster overrides any part
of one component's image (``images.grafana: {tag: 13.1.4}``), pins it to a digest
(``digest: sha256:<64 hex>``, rendered ``repo:tag@sha256:...``: the runtime pulls exactly that
image and the tag stays for readers), and may pull every image through a registry mirror.

A registry mirror (``host[:port][/path]``) replaces the registry part of every image, overrides
included, and keeps the path: ``quay.io/prometheus/prometheus`` through ``mirror.example/proxy``
becomes ``mirror.example/proxy/prometheus/prometheus``; a Docker Hub image gets its implicit parts
(``grafana/grafana`` is ``docker.io/grafana/grafana``, ``busybox`` is ``docker.io/library/busybox``),
so it becomes ``mirror.example/proxy/grafana/grafana``. ``images.registryMirror`` in cluster.yaml
wins over ``registryMirror`` in fleet.yaml.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from promstack.config import imageref
from promstack.config.model import Model, pattern_text, show
from promstack.config.versions import Image

_DIGEST_FIX = "write sha256: and the 64 lowercase hex digits the registry reports for the image"


def _repository(value: str) -> str:
    if len(value) > imageref.MAX_NAME or not imageref.REPOSITORY.fullmatch(value):
        raise ValueError(f"{show(value)} is not an image repository; write [registry/]path in lowercase, "
                         "e.g. quay.io/prometheus/prometheus, without a tag or digest")
    return value


def _registry_prefix(value: str) -> str:
    host = value.split("/", 1)[0]
    if len(value) > 200 or not imageref.REGISTRY_PREFIX.fullmatch(value) or not imageref.is_registry_host(host):
        raise ValueError(f"{show(value)} is not a registry mirror; write host[:port][/path] with a host name "
                         "holding a '.' (or localhost), e.g. mirror.internal.example/proxy")
    return value


Repository = Annotated[str, AfterValidator(_repository)]
Tag = Annotated[str, pattern_text(imageref.TAG, "an image tag", max_length=128,
                                  fix="use letters, digits, '_', '.' and '-', e.g. v3.14.0")]
Digest = Annotated[str, pattern_text(imageref.DIGEST, "an image digest", max_length=71, fix=_DIGEST_FIX)]
RegistryMirror = Annotated[str, AfterValidator(_registry_prefix)]


class ImageOverride(Model):
    """One component's image; each key unset keeps the pinned default's (versions.py)."""

    repository: Repository | None = None
    tag: Tag | None = None
    digest: Digest | None = None

    def apply(self, default: Image) -> Image:
        return Image(self.repository or default.repository, self.tag or default.tag, self.digest or default.digest)


class ImagesConfig(Model):
    """``images:``: per-component overrides of the pinned images and a registry mirror.

    Defaults: every component runs its versions.py image, no mirror (fleet.yaml's
    ``registryMirror`` applies when this one is unset). Keys: nodeExporter, prometheus,
    kubeStateMetrics, prometheusAdapter, alertmanager, configReloader (Alertmanager's sidecar),
    grafana, exampleApp.
    """

    registry_mirror: RegistryMirror | None = None
    node_exporter: ImageOverride = ImageOverride()
    prometheus: ImageOverride = ImageOverride()
    kube_state_metrics: ImageOverride = ImageOverride()
    prometheus_adapter: ImageOverride = ImageOverride()
    alertmanager: ImageOverride = ImageOverride()
    config_reloader: ImageOverride = ImageOverride()
    grafana: ImageOverride = ImageOverride()
    example_app: ImageOverride = ImageOverride()

    def image(self, override: ImageOverride, default: Image, *, fleet_mirror: str | None = None) -> Image:
        """``default`` with ``override`` applied, then pulled through the mirror (this one, else the fleet's)."""
        image = override.apply(default)
        mirror = self.registry_mirror or fleet_mirror
        if mirror is None:
            return image
        return Image(imageref.mirrored(image.repository, mirror), image.tag, image.digest)
