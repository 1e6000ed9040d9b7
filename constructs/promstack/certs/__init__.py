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


#: At most this many characters of any one piece of user input appear in an error message.
ECHO_LIMIT = 80
#: A file path is the one exception: it says which file is wrong, and temporary or CI paths are
#: routinely longer than 80 characters, so paths are elided only beyond this length.
PATH_ECHO_LIMIT = 240


def clip(text: object, limit: int = ECHO_LIMIT) -> str:
    """``text`` made safe to echo in a one-line error: control and other unprintable characters
    escaped (``\\n``, ``\\udcff``), and the middle elided with ``...`` when longer than ``limit``.

    Both ends survive elision, so a long path keeps its start and its file name.
    """
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    if len(shown) <= limit:
        return shown
    keep = limit - 3
    return f"{shown[: keep - keep // 2]}...{shown[len(shown) - keep // 2 :]}"


def one_line(text: str) -> str:
    """``text`` on one line: line breaks (and the indentation around them) become one space,
    other unprintable characters are escaped. Not shortened: for our own messages."""
    joined = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in joined)


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error in one short line (``problem at line L, column C``), without the snippet
    of the offending text that PyYAML's own message quotes."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    text = str(problem) if problem else type(exc).__name__
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return one_line(text)


class CertError(Exception):
    """A problem with certificate or sealing input, rendered as ``<source>: <field>: <message>; <fix>``.

    ``field`` and ``fix`` may be empty; the rendered text then leaves them out. The rendering is
    always one line: ``field`` (often typed by the user) is passed through ``clip``, ``source``
    (usually a file path) through ``clip`` with ``PATH_ECHO_LIMIT``, ``message`` and ``fix``
    through ``one_line`` (code that puts user input into a message clips it itself).
    """

    def __init__(self, source: str, field: str, message: str, fix: str = "") -> None:
        self.source = source
        self.field = field
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (clip(self.source, PATH_ECHO_LIMIT), clip(self.field), one_line(self.message)) if p]
        text = ": ".join(parts)
        return f"{text}; {one_line(self.fix)}" if self.fix else text


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
