"""The validation gate: ``promstack validate`` and ``validate_paths``.

Modules, one per concern: ``loader`` (files -> units), ``schemas`` (strict core schemas per
Kubernetes minor, CRD schemas via ``crds``), ``wiring`` (references within a cluster),
``policy`` (secrets, private keys, hardening, RBAC), ``promtool`` (Prometheus config and rules),
``report`` (ordering, text and JSON), ``gate`` (runs them), ``cli`` (argparse).
"""

from promstack.validate.findings import Finding
from promstack.validate.gate import UsageError, validate_paths
from promstack.validate.loader import InputError
from promstack.validate.schemas import supported_versions

__all__ = ["Finding", "InputError", "UsageError", "supported_versions", "validate_paths"]
