"""Reading cluster.yaml and fleet.yaml: bad bytes and odd files give one line, never a traceback or a hang;
YAML merge keys work while a key written twice stays an error."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promstack.config.cluster import load_cluster
from promstack.config.fleet import load_fleet
from promstack.config.model import ConfigError
from promstack.config.yamlio import MAX_BYTES, MAX_DEPTH, dump

REPO = "https://git.example.com/platform/promstack.git"

# Ten levels of nine aliases each: 9**10 values once expanded ("billion laughs").
BILLION_LAUGHS = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
).encode()


def write(tmp_path: Path, data: bytes) -> Path:
    folder = tmp_path / "clusters" / "c"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cluster.yaml").write_bytes(data)
    return folder


def one_problem(folder: Path) -> str:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_cluster(folder)
    assert time.monotonic() - started < 5, "refusing bad input must be quick"
    [problem] = caught.value.problems
    assert problem.startswith(f"{folder / 'cluster.yaml'}: "), problem
    assert "\n" not in problem and len(problem) < 300, problem
    return problem


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("namespace: café\n".encode("latin-1"), "line 1: not UTF-8 text (byte offset 14); save the file as UTF-8"),
        (b"\xff\xfe" + b"\x00\xd8", "not UTF-16-LE text"),  # a BOM, then a lone surrogate
        ("namespace: x\n".encode("utf-16-le"), "the character #x0000 is not allowed (a NUL: if the file is UTF-16"),
        (b"namespace: a\x00\n", "line 1: not valid YAML: the character #x0000 is not allowed"),
        (b"namespace: a\x1b\n", "the character #x001b is not allowed"),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", f"nested more than {MAX_DEPTH} levels deep; flatten it"),
        (b"a: " + b"[" * 250 + b"]" * 250 + b"\n", f"nested more than {MAX_DEPTH} levels deep"),
        (b"".join(b"  " * i + b"k:\n" for i in range(300)), f"nested more than {MAX_DEPTH} levels deep"),
        (b"? [a, b]\n: 1\n", "line 1: not valid YAML: a key must be a plain value, not a list or a mapping"),
        (b"prometheus:\n  ? {a: 1}\n  : 1\n", "line 2: not valid YAML: a key must be a plain value"),
        (b"adapter:\n  replicas: " + b"9" * 4301 + b"\n", "line 2: not valid YAML: a number 4301 characters long"),
        (b"adapter:\n  replicas: " + b"9" * 25 + b"\n", "adapter.replicas: must be less than or equal to 10"),
        (BILLION_LAUGHS, "not valid YAML: more than 20000 values once aliases are expanded"),
        (b"a: &a [1, *a]\n", "an alias inside the value its anchor names"),
        (b"a: &a\n  b: *a\n", "an alias inside the value its anchor names"),
        (b"deep: &d " + b"[" * 20 + b"]" * 20 + b"\nx: [[[[[[[[[[[[[[[*d]]]]]]]]]]]]]]]\n",
         f"nested more than {MAX_DEPTH} levels deep"),
        (b"namespace: !" + b"t" * 5000 + b" x\n", "could not determine a constructor for the tag"),
        (b"namespace: *" + b"a" * 5000 + b"\n", "found undefined alias"),
        (b"prometheus:\n  retention: 1d\n  retention: 2d\n",
         "line 3: not valid YAML: duplicate key 'retention'; keep one"),
        (b"a: 1\n---\nb: 2\n", "expected a single document"),
        (b"namespace: 2001-02-30\n",
         "line 1: not valid YAML: this value cannot be read as !!timestamp; fix it or quote it"),
        (b"adapter:\n  replicas: !!int ten\n", "line 2: not valid YAML: this value cannot be read as !!int"),
        (b"grafana: {persistence: {enabled: !!bool maybe}}\n", "this value cannot be read as !!bool"),
        (b"grafana: !!map [1]\n", "line 1: not valid YAML: expected a mapping, found a sequence"),
    ],
)
def test_bad_bytes_give_one_line(tmp_path: Path, data: bytes, expected: str) -> None:
    assert expected in one_problem(write(tmp_path, data))


def test_alias_bomb_is_refused_without_quoting_it(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, BILLION_LAUGHS))
    assert "lol" not in problem


def test_huge_text_is_never_echoed(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, b"namespace: " + b"q" * 900_000 + b"\n"))
    assert problem.count("q") <= 80 and "namespace: " in problem


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "(file): a directory, not a regular file; make it a plain file"),
        (_fifo, "(file): a named pipe, not a regular file"),
        (lambda p: p.symlink_to(p.parent / "gone.yaml"), "(file): a symlink to nothing; point it at a file"),
        (lambda p: p.symlink_to("/dev/zero"), "(file): a character device, not a regular file"),
        (lambda p: p.write_bytes(b"#" * (MAX_BYTES + 1)), "(file): larger than 1024 KiB"),
        (lambda p: p.symlink_to(p), "(file): cannot be read (Too many levels of symbolic links)"),
    ],
    ids=["directory", "fifo", "dangling-symlink", "dev-zero", "too-large", "symlink-loop"],
)
def test_only_small_regular_files_are_read(tmp_path: Path, make: Callable[[Path], None], expected: str) -> None:
    folder = tmp_path / "clusters" / "c"
    folder.mkdir(parents=True)
    make(folder / "cluster.yaml")
    assert expected in one_problem(folder)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "shared.yaml").write_text("namespace: metrics\n")
    folder = tmp_path / "clusters" / "c"
    folder.mkdir(parents=True)
    (folder / "cluster.yaml").symlink_to(tmp_path / "shared.yaml")
    assert load_cluster(folder).namespace == "metrics"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])  # both write a byte-order mark
def test_byte_order_marks_are_read(tmp_path: Path, encoding: str) -> None:
    folder = write(tmp_path, "namespace: metrics\n".encode(encoding))
    assert load_cluster(folder).namespace == "metrics"


MERGED = b"""\
adapter:
  resources:
    requests: &small {cpu: 100m, memory: 128Mi}
    limits:
      <<: *small
      cpu: 500m
kubeStateMetrics:
  resources:
    requests: {<<: *small}
    limits: {<<: [*small, {cpu: 2}], memory: 1Gi}
"""


def test_merge_keys_work_and_a_written_key_overrides_a_merged_one(tmp_path: Path) -> None:
    spec = load_cluster(write(tmp_path, MERGED)).spec
    assert (spec.adapter.resources.limits.cpu, spec.adapter.resources.limits.memory) == ("500m", "128Mi")
    assert spec.kube_state_metrics.resources.requests.cpu == "100m"
    # The first mapping of a merge list wins; a written key wins over all of them.
    assert (spec.kube_state_metrics.resources.limits.cpu, spec.kube_state_metrics.resources.limits.memory) == (
        "100m", "1Gi")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (MERGED.replace(b"      cpu: 500m\n", b"      cpu: 500m\n      cpu: 1\n"),
         "line 7: not valid YAML: duplicate key 'cpu'"),
        (MERGED.replace(b"      <<: *small\n", b"      <<: *small\n      <<: *small\n"),
         "line 6: not valid YAML: duplicate key <<"),
        (b"a: &a 1\nb: {<<: *a}\n", "expected a mapping or list of mappings for merging"),
    ],
)
def test_merge_keys_keep_duplicates_an_error(tmp_path: Path, data: bytes, expected: str) -> None:
    assert expected in one_problem(write(tmp_path, data))


def test_fleet_yaml_is_read_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(f"repoURL: {REPO}\nflux: &f {{interval: 1m}}\nargocd: {{<<: *f}}\n")
    with pytest.raises(ConfigError) as caught:
        load_fleet(tmp_path)
    assert caught.value.problems == [f"{tmp_path / 'fleet.yaml'}: argocd.interval: unknown key; remove it or "
                                     "check its spelling (see promstack/config/fleet.py)"]
    (tmp_path / "fleet.yaml").unlink()
    (tmp_path / "fleet.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"fleet.yaml: \(file\): a directory, not a regular file"):
        load_fleet(tmp_path)


def test_dump_writes_no_anchors() -> None:
    shared = {"a": 1}
    assert dump({"x": shared, "y": shared}) == "x:\n  a: 1\ny:\n  a: 1\n"
