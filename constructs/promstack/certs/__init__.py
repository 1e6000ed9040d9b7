"""Certificates and sealing for promstack: everything that touches key material lives here.

- ``sealing``: encrypt values exactly like ``kubeseal --cert`` and build SealedSecret manifests.
- ``pki``: a small CA and the prometheus-adapter serving certificate.
- ``facts``: the public record (``clusters/<name>/certs.yaml``) of what was issued.
- ``cli``: ``promstack certs issue|check`` and ``promstack seal``.

Private keys exist only in memory, in the sealed ciphertext, or in a ``--ca-out`` folder outside
the repository; nothing here writes a private key into ``clusters/``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


class CertError(Exception):
    """A problem with certificate or sealing input, rendered as ``<source>: <field>: <message>; <fix>``.

    ``field`` and ``fix`` may be empty; the rendered text then leaves them out.
    """

    def __init__(self, source: str, field: str, message: str, fix: str = "") -> None:
        self.source = source
        self.field = field
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.field, self.message) if p]
        text = ": ".join(parts)
        return f"{text}; {self.fix}" if self.fix else text


#: Mode for public files (certificates, sealed secrets, facts).
PUBLIC_MODE = 0o644
#: Mode for the only private file we ever write (a CA key in a --ca-out folder, outside the repo).
PRIVATE_MODE = 0o600


def write_files_atomically(files: Mapping[Path, tuple[bytes, int]]) -> None:
    """Write every ``path -> (content, mode)`` or, if staging fails, none of them.

    Each file is first written and fsynced to a temporary file in its destination folder (so the
    final ``os.replace`` is an atomic rename on the same filesystem); only when all are staged are
    they renamed into place. A failure while staging removes the temporaries and leaves every
    destination untouched. Parent folders are created as needed.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for dest, (content, mode) in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
            tmp = Path(tmp_name)
            staged.append((tmp, dest))
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        for tmp, dest in staged:
            os.replace(tmp, dest)
    finally:
        # After a successful run every temporary has been renamed away; after a failure, clean up.
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
