"""What `promstack synth` runs: render what changed into a scratch folder under .build/ and swap it
into dist/ only if the whole run succeeded, one run at a time.

With the cache (the default; see ``promstack.gitops.cache``) only the clusters whose inputs or code
changed are rendered, and only their folders of dist/ (and dist/bootstrap/ when the fleet file or
the set of clusters changed) are replaced; every other folder keeps its files, untouched. Without a
usable cache (the first run, ``--no-cache``, a changed promstack) every cluster is rendered and the
whole of dist/ is swapped. Either way dist/ ends up byte-identical to a fresh render.

This module does not import cdk8s: a run with nothing to render never starts the jsii runtime.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from promstack.config.cluster import CLUSTER_FILE, discover_clusters, load_all
from promstack.config.fleet import FleetConfig, load_fleet
from promstack.config.model import ConfigError
from promstack.config.yamlio import read_yaml
from promstack.gitops import cache

#: The folders synth writes into dist/; anything else there is stale.
CLUSTERS_DIR, BOOTSTRAP_DIR = "clusters", "bootstrap"


def find_clusters(clusters_dir: Path) -> tuple[list[Path], FleetConfig]:
    """The cluster folders (sorted) and the fleet file, loaded; on a stray folder, no cluster or a bad
    fleet file, the ConfigError ``load_all`` gives (every cluster's problems) or else the fleet's."""
    try:
        folders = discover_clusters(clusters_dir)
        if not folders:
            raise ConfigError([])
        fleet = load_fleet(clusters_dir)
    except ConfigError:
        load_all(clusters_dir)  # raises the problems of every cluster and stray folder, if any
        raise
    return folders, fleet


def without_adapter(folders: Iterable[Path]) -> list[str]:
    """The clusters whose cluster.yaml renders no prometheus-adapter (``autoscaling.provider: keda``
    without ``keepAdapter``): their Flux bootstrap has no apiservice Kustomization. Read from the
    raw file, so a run that renders nothing stays cheap; a file that does not parse counts as
    rendering the adapter (its own render then fails the run)."""
    found = []
    for folder in folders:
        try:
            text = (folder / CLUSTER_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # Without the word, or an escape that could spell it, the file cannot name KEDA: skip the
        # YAML parse, which a 1,000-cluster no-change run would otherwise pay a thousand times.
        if "keda" not in text and "\\" not in text:
            continue
        try:
            data = read_yaml(folder / CLUSTER_FILE, if_missing="create it")
        except ConfigError:
            continue
        autoscaling = data.get("autoscaling") if isinstance(data, dict) else None
        if (isinstance(autoscaling, dict) and autoscaling.get("provider") == "keda"
                and autoscaling.get("keepAdapter") is not True):
            found.append(folder.name)
    return found


def print_warnings(found: Iterable[str]) -> None:
    for warning in found:
        print(f"promstack: warning: {warning}", file=sys.stderr)


@contextmanager
def exclusive(lock_file: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an flock on ``lock_file`` (created, never deleted); ``on_wait`` runs if another holder makes us wait."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the process dies


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (which must not exist); copy and delete across file systems."""
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dst, symlinks=True)
            shutil.rmtree(src)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
            src.unlink()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _swap_folders(changes: list[tuple[Path, Path | None]], previous: Path) -> None:
    """Put each new folder in place of its target (``None``: just remove the target), moving the old
    ones under ``previous``; if any step fails, every step before it is undone."""
    previous.mkdir()
    done: list[tuple[Path, Path | None, Path | None]] = []  # target, where its old entry went, where the new came from
    try:
        for index, (target, new) in enumerate(changes):
            kept: Path | None = None
            if _exists(target):
                kept = previous / str(index)
                _move(target, kept)
            done.append((target, kept, None))
            if new is not None and _exists(new):
                target.parent.mkdir(parents=True, exist_ok=True)
                _move(new, target)
                done[-1] = (target, kept, new)
    except BaseException:
        for target, old, came_from in reversed(done):
            if came_from is not None and _exists(target):
                _move(target, came_from)
            if old is not None:
                _move(old, target)
        raise


def _swap_whole(rendered: Path, dist: Path, previous: Path) -> None:
    """Put ``rendered`` in place of ``dist``; ``dist`` as it was if that fails."""
    if _exists(dist):
        _move(dist, previous)
    try:
        _move(rendered, dist)
    except BaseException:
        if _exists(previous) and not _exists(dist):
            _move(previous, dist)
        raise


def synth_and_swap(clusters_dir: Path, dist: Path, *, build_dir: Path, copy_to: Path | None = None,
                   jobs: int | None = None, on_wait: Callable[[], None] | None = None,
                   use_cache: bool = True) -> list[str]:
    """Render the clusters under ``clusters_dir`` into a new folder under ``build_dir`` and, only if
    the whole run succeeded, put it in place of their folders in ``dist``: bad input or a crash
    leaves ``dist`` as it was. Returns the cluster names.

    ``use_cache``: render only the clusters whose folder in ``dist`` is not current (see
    ``promstack.gitops.cache``) and replace only those folders; False renders and swaps all of
    dist/ (the manifest is written either way, so the next run can reuse this one's folders).
    Runs that share ``build_dir`` take turns (an flock on ``build_dir/synth.lock``) and each renders
    into its own temporary folder, so concurrent runs never share a scratch folder or interleave
    their swaps. ``copy_to`` also gets a copy of dist/ (the cdk8s CLI lists its output folder).
    """
    with exclusive(build_dir / "synth.lock", on_wait):
        work = Path(tempfile.mkdtemp(prefix="synth-", dir=build_dir))
        try:
            folders, fleet = find_clusters(clusters_dir)
            names = [folder.name for folder in folders]
            keys = cache.Keys(clusters_dir)
            wanted = {folder.name: keys.cluster(folder) for folder in folders}
            no_adapter = without_adapter(folders)
            wanted[cache.BOOTSTRAP] = keys.bootstrap(names, no_adapter)
            where = {name: dist / CLUSTERS_DIR / name for name in names}
            where[cache.BOOTSTRAP] = dist / BOOTSTRAP_DIR
            entries = cache.load(build_dir, dist) if use_cache and dist.is_dir() else {}
            reused = {name for name, key in wanted.items() if cache.current(entries.get(name), key, where[name])}

            rendered = work / "dist"
            rendered.mkdir()
            found = {name: list(entries[name].warnings) for name in names if name in reused}
            if len(reused) < len(wanted):
                from promstack.gitops import synth  # starts the jsii runtime: only when something renders

                found.update(synth.render_clusters([f for f in folders if f.name not in reused], rendered, jobs=jobs))
                if cache.BOOTSTRAP not in reused:
                    synth.write(synth.build_bootstrap(fleet, names, rendered, no_adapter))
            print_warnings(w for name in names for w in found[name])

            if not reused:
                _swap_whole(rendered, dist, work / "previous")
            else:
                changes: list[tuple[Path, Path | None]] = [
                    (where[name], rendered / where[name].relative_to(dist)) for name in wanted if name not in reused
                ]
                stale = [entry for entry in sorted(dist.iterdir()) if entry.name not in {CLUSTERS_DIR, BOOTSTRAP_DIR}]
                if (dist / CLUSTERS_DIR).is_dir():
                    stale += [entry for entry in sorted((dist / CLUSTERS_DIR).iterdir()) if entry.name not in where]
                changes += [(entry, None) for entry in stale]
                if changes:
                    _swap_folders(changes, work / "previous")

            _record(build_dir, dist, {
                name: entries[name] if name in reused else cache.Entry(key, cache.snapshot(where[name]),
                                                                       tuple(found.get(name, ())))
                for name, key in wanted.items()
            })
            if copy_to is not None:
                shutil.copytree(dist, copy_to, dirs_exist_ok=True)
            return names
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _record(build_dir: Path, dist: Path, entries: dict[str, cache.Entry]) -> None:
    """Save the manifest; a build folder that cannot take it only costs the next run its reuse."""
    try:
        cache.save(build_dir, dist, entries)
    except OSError as exc:
        print(f"promstack: warning: cannot write the synth cache ({exc}); the next synth renders everything",
              file=sys.stderr)
