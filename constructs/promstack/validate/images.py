"""Container image references: each must parse as the runtime reads it, and a digest must be a
well-formed sha256 one (``repo[:tag]@sha256:<64 lowercase hex>``). A malformed digest never pulls:
the kubelet refuses the reference and the pod sits in InvalidImageName."""

from __future__ import annotations

from promstack.config import imageref
from promstack.validate.findings import clip


def reference_error(image: str) -> str | None:
    """Why ``image`` is no valid reference (a malformed digest, tag or name); None when it is one."""
    parsed = imageref.parse(image)
    return f"image {clip(repr(image))} {parsed}" if isinstance(parsed, str) else None
