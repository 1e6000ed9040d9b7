"""Byte sizes in the two notations the stack uses: Kubernetes quantities (a claim's ``10Gi``) and
Prometheus' ``--storage.tsdb.retention.size`` (``8704MB``, where 1KB is 1024B)."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

from promstack.config.model import quantity_value, show

#: Prometheus' size units (alecthomas/units base-2 bytes, as its --help lists them): 1KB = 1024B.
PROMETHEUS_SIZE_UNITS: Final = ("B", "KB", "MB", "GB", "TB", "PB", "EB")
_PROMETHEUS_SIZE: Final = re.compile(rf"([0-9]{{1,20}}(?:\.[0-9]{{1,9}})?)({'|'.join(PROMETHEUS_SIZE_UNITS)})")

#: Share of the volume claim that size-based retention may fill by default. The rest is headroom:
#: Prometheus deletes blocks only when it next applies retention (after a compaction), so the data
#: directory grows past the limit in between and while a compaction writes its new block.
DEFAULT_RETENTION_SHARE: Final = Fraction(85, 100)


def quantity_bytes(quantity: str) -> Fraction:
    """Bytes in a Kubernetes quantity such as ``10Gi``, ``500M`` or ``1e9`` (one parser: config.model's)."""
    value = quantity_value(quantity)
    if value is None:
        raise ValueError(f"{show(quantity)} is not a Kubernetes quantity")
    return Fraction(value)


def prometheus_size_bytes(size: str) -> Fraction:
    """Bytes in a Prometheus size such as ``8704MB`` (base 2: 1KB = 1024B)."""
    match = _PROMETHEUS_SIZE.fullmatch(size)
    if not match:
        raise ValueError(
            f"{show(size)} is not a Prometheus size; write a number and one of {', '.join(PROMETHEUS_SIZE_UNITS)} "
            "(base 2: 1KB = 1024B), e.g. 8GB or 8704MB"
        )
    return Fraction(match.group(1)) * (1 << 10 * PROMETHEUS_SIZE_UNITS.index(match.group(2)))


def retention_size_for_claim(claim: str, share: Fraction = DEFAULT_RETENTION_SHARE) -> str:
    """``share`` of the claim ``claim`` as a Prometheus size, rounded down to whole MB (``10Gi`` -> ``8704MB``)."""
    limit = int(quantity_bytes(claim) * share)
    mebibyte = 1024**2
    return f"{limit // mebibyte}MB" if limit >= mebibyte else f"{max(limit, 1)}B"
