"""Certificates and sealing for promstack: everything that touches key material lives here.

- ``sealing``: encrypt values exactly like ``kubeseal --cert`` and build SealedSecret manifests.
- ``pki``: a small CA and the prometheus-adapter serving certificate.
- ``facts``: the public record (``clusters/<name>/certs.yaml``) of what was issued.
- ``cli``: ``promstack certs issue|check`` and ``promstack seal``.

Private keys exist only in memory, in the sealed ciphertext, or in a ``--ca-out`` folder outside
the repository; nothing here writes a private key into ``clusters/``.
"""

from __future__ import annotations

import contextlib
import os
import reprlib
import secrets
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

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


def short_repr(value: object) -> str:
    """``repr(value)`` for an error message, bounded in size and in work: a YAML alias bomb or a
    deeply nested value is summarised (``[[...], ...]``) instead of expanded, then ``clip``-ped."""
    return clip(_SHORT_REPR.repr(value))


class _ShortRepr(reprlib.Repr):
    """reprlib.Repr that also summarises an integer too long for ``repr`` (past 4300 digits it raises)."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 10_000:  # about 3000 digits: well short of the limit, far past any real value
            return f"<a number of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_SHORT_REPR = _ShortRepr()
_SHORT_REPR.maxlevel = 2
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxdict = _SHORT_REPR.maxset = 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = ECHO_LIMIT


#: Largest certs.yaml or SealedSecret file read (one sealing a full 1 MiB Secret is about 1.4 MiB).
MAX_YAML_BYTES = 4 * 1024 * 1024


_FAST_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
#: Nesting and size the fast parser's result may have; deeper or larger documents (aliases can
#: make a small text a huge tree) are parsed again by PyYAML. Sealed files have about 50 nodes.
_FAST_DEPTH, _FAST_NODES = 32, 10_000


def _small(value: Any) -> bool:
    """Whether ``value`` nests at most ``_FAST_DEPTH`` deep and has at most ``_FAST_NODES`` nodes."""
    budget = _FAST_NODES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > _FAST_DEPTH:
            return False
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return True


def load_yaml(content: str | bytes, source: str, fix: str) -> Any:
    """``yaml.safe_load`` that fails only with ``CertError``: also for text that is not UTF-8, a
    timestamp YAML recognises but Python cannot represent (``2026-13-45``), nesting so deep it
    exhausts the stack, or more than ``MAX_YAML_BYTES`` (parsing that much would take seconds)."""
    if len(content) > MAX_YAML_BYTES:  # characters of text: at least as many bytes
        raise CertError(source, "", f"larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB; this file is a few KiB",
                        fix)
    try:
        text = content.decode() if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise CertError(source, "", f"not UTF-8 text (byte {exc.start})", fix) from exc
    try:
        try:
            # libyaml's parser is ten times faster (every synth reads each cluster's sealed files);
            # on bad, deeply nested or huge input PyYAML's own parser runs, so the outcome is always its.
            fast = yaml.load(text, Loader=_FAST_LOADER)
            if _small(fast):
                return fast
        except yaml.YAMLError:
            pass
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CertError(source, "", f"not valid YAML ({yaml_problem(exc)})", fix) from exc
    except (ValueError, OverflowError) as exc:
        raise CertError(source, "", f"not valid YAML ({one_line(str(exc))})", fix) from exc
    except RecursionError as exc:
        raise CertError(source, "", "not valid YAML (nested too deeply)", fix) from exc


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


def write_files_atomically(
    files: Mapping[Path, tuple[bytes, int]], *, create_only: Collection[Path] = ()
) -> None:
    """Write every ``path -> (content, mode)``, in order, or none of them.

    Each file is first written and fsynced to a temporary file in its destination folder; only when
    all are staged are they renamed into place (``os.replace``: atomic on one filesystem). Before a
    file is replaced, the old one is kept under a temporary hard link; if any step fails, the files
    already renamed are put back (or removed, if they are new), temporaries and folders this call
    created are removed, and ``CertError`` names the file that failed. A path in ``create_only`` is
    never overwritten, not even by a file that appears meanwhile (it is linked into place, which
    fails if the name exists). Parent folders are created as needed.

    Only a crash of the machine while renaming can leave some files new and some old.
    """
    staged: list[tuple[Path, Path]] = []  # (temporary, destination)
    backups: list[Path] = []
    done: list[tuple[Path, Path | None]] = []  # (destination, backup of the old file or None if new)
    created_dirs: list[Path] = []
    current: Path | None = None
    try:
        try:
            for dest, (content, mode) in files.items():
                current = dest
                created_dirs += _make_parents(dest.parent)
                fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=_temp_prefix(dest), suffix=".tmp")
                tmp = Path(tmp_name)
                staged.append((tmp, dest))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, mode)
            for tmp, dest in staged:
                current = dest
                if dest in create_only:
                    _link_new(tmp, dest)
                    done.append((dest, None))
                    continue
                backup = _backup(dest)
                if backup is not None:
                    backups.append(backup)
                os.replace(tmp, dest)
                done.append((dest, backup))
        except OSError as exc:
            _roll_back(done)
            _remove([tmp for tmp, _ in staged] + backups)
            _remove_dirs(created_dirs)
            raise CertError(
                str(current or ""), "", f"cannot write ({exc.strerror or exc}); no file was changed",
                "check that the folder exists, is writable and has free space, then re-run",
            ) from exc
        for folder in dict.fromkeys(dest.parent for _, dest in staged):
            _fsync_dir(folder)
    finally:
        # After a successful run the temporaries have been renamed away and only the backups remain.
        _remove([tmp for tmp, _ in staged] + backups)


def _temp_prefix(dest: Path) -> str:
    """Start of a temporary's name beside ``dest``: hidden, recognisable, and short enough that a
    destination name near the 255-byte limit still leaves room for the random part."""
    return f".{dest.name[:64]}."


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for path in missing:
        path.mkdir(exist_ok=True)
    return missing


def _backup(dest: Path) -> Path | None:
    """A temporary second name for the current ``dest`` (None if there is none), to restore it from."""
    if not dest.exists():
        return None
    while True:
        backup = dest.parent / f"{_temp_prefix(dest)}{secrets.token_hex(8)}.old"
        try:
            os.link(dest, backup)  # the same inode: content, mode and mtime exactly as they were
            return backup
        except FileExistsError:
            continue
        except OSError:
            break
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=_temp_prefix(dest), suffix=".old")
    os.close(fd)
    shutil.copy2(dest, name)  # a filesystem without hard links
    return Path(name)


def _link_new(tmp: Path, dest: Path) -> None:
    """Give ``tmp`` the name ``dest``, failing with ``FileExistsError`` if ``dest`` exists."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise
    except OSError:  # no hard links here: check, then rename (a narrow race, on odd filesystems only)
        if os.path.lexists(dest):
            raise FileExistsError(17, "File exists", str(dest)) from None
        os.replace(tmp, dest)


def _roll_back(done: list[tuple[Path, Path | None]]) -> None:
    """Put back the old file (or remove the new one) for every destination already renamed."""
    for dest, backup in reversed(done):
        try:
            if backup is None:
                dest.unlink(missing_ok=True)
            else:
                os.replace(backup, dest)
        except OSError:
            pass  # best effort: keep restoring the others


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _remove_dirs(folders: list[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _fsync_dir(folder: Path) -> None:
    """Persist the renames in ``folder`` (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
