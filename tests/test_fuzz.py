"""Hostile input never hangs, crashes or slips through: a deterministic fuzz of every input reader.

Each test drives one reader in-process with one class of hostile input, mostly mutations of the
files the repository ships (clusters/*/cluster.yaml, clusters/fleet.yaml, certs.yaml, dist/ and the
gate's fixtures). For every example the reader either accepts the input or raises one of the
project's own errors, each problem on one line that quotes at most ~100 characters of the input,
within a per-example time limit. Accepted cluster and fleet inputs are collected; a bounded,
evenly spread subset of them is rendered into a temporary folder and must pass the gate with no
finding. Runs are derandomized (the same examples every run) and write no example database.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import inspect
import re
import resource
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from conftest import CLUSTERS, DIST, ROOT, read_tree
from promstack.certs import CertError
from promstack.certs.cli import cmd_seal
from promstack.certs.facts import parse_facts
from promstack.certs.sealing import parse_sealed_secret
from promstack.config.cluster import load_cluster
from promstack.config.fleet import load_fleet
from promstack.config.model import ConfigError
from promstack.validate.gate import UsageError, validate_paths
from promstack.validate.loader import InputError
from promstack.validate.report import format_line

# -- bounds ---------------------------------------------------------------------------------------

#: Longest run of input characters an error line may repeat ("about 100").
ECHO = 110
#: Longest error line, whatever it holds (a temporary path and a sentence or two).
MAX_LINE = 700
#: Wall-clock limit of one example; past it the example counts as a hang.
HANG_SECONDS = 10.0
#: Growth of the peak resident set across the module.
MAX_RSS_GROWTH_MB = 400
#: Accepted cluster/fleet inputs rendered and gated (about 0.5 s to render, 1.5 s to gate each).
RENDERED = 10

FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)

#: (reader, input class, outcome) -> examples; reported at the end of the module.
COUNTS: Counter[tuple[str, str, str]] = Counter()
#: Accepted inputs to render: (input class, cluster folder it replaces the file of, file name, text).
ACCEPTED: list[tuple[str, str, str, str]] = []

SHIPPED_CLUSTERS = {p.parent.name: p.read_text() for p in sorted(CLUSTERS.glob("*/cluster.yaml"))}
SHIPPED_FLEET = (CLUSTERS / "fleet.yaml").read_text()
SHIPPED_FACTS = (CLUSTERS / "prod-example" / "certs.yaml").read_text()
MANIFESTS = sorted(p for p in [*DIST.rglob("*.yaml"), *(ROOT / "tests" / "validate" / "fixtures").rglob("*.yaml")]
                   if p.is_file())


class Hang(BaseException):
    """An example ran past HANG_SECONDS (a BaseException: no `except Exception` in the code swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float = HANG_SECONDS) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def echoed(line: str, text: str) -> str | None:
    """A run of ECHO characters of ``line`` found in ``text``: any common run of ECHO + 4 or more
    characters holds one of the windows tried (every fifth start)."""
    for start in range(0, len(line) - ECHO + 1, 5):
        window = line[start:start + ECHO]
        if window in text:
            return window
    return None


#: A backslash escape (``\\x01``, ``\\n``, ``\\u2028``): one character of input, in YAML text and in messages alike.
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0abfnrtv\\'\"])")


def check_lines(lines: Sequence[str], inputs: Sequence[str]) -> None:
    """Every error line is one non-empty, bounded line that quotes no long run of any input
    (an escaped character counts as one: a message escapes what the YAML text may escape too)."""
    assert lines, "an error without a message"
    texts = [_ESCAPE.sub("\x00", text) for text in inputs]
    for line in lines:
        assert line.strip(), "an empty error line"
        assert len(line.splitlines()) == 1, f"an error spanning lines: {line[:300]!r}"
        assert len(line) <= MAX_LINE, f"an error line of {len(line)} characters: {line[:300]!r}"
        for text in texts:
            run = echoed(_ESCAPE.sub("\x00", line), text)
            assert run is None, f"the error quotes {run!r}... of the input: {line[:300]!r}"


def attempt(reader: str, kind: str, call: Callable[[], Any], allowed: tuple[type[Exception], ...],
            inputs: Sequence[str]) -> Any:
    """``call()`` within the time limit; its result, or None after checking the project error it raised."""
    try:
        with time_limit():
            result = call()
    except allowed as exc:
        COUNTS[reader, kind, "rejected"] += 1
        check_lines(exc.problems if isinstance(exc, ConfigError) else [str(exc)], inputs)
        return None
    COUNTS[reader, kind, "accepted"] += 1
    return result


# -- input strategies -----------------------------------------------------------------------------

#: Characters that end or break a line, control characters and other characters a reader may trip on.
NASTY = ["\n", "\r", "\r\n", "\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029", "\t", "\x0b",
         "\x0c", "\x1c", "\ufeff", "\ud800", "\U0001f600", " ", "\\", '"', "'", "#", ": ", "- ", "{", "*a", "&a",
         "!!python/object:os.system", "%", "@", "`"]
nasty_char = st.sampled_from(NASTY)
long_text = st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "\x00", "9", "a\n"]),
                      st.sampled_from([101, 300, 5000, 70_000]))
hostile_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda s, c: s + c, st.text(alphabet="abc-.", max_size=8), nasty_char),
    st.builds(lambda c, s: c + s, nasty_char, st.text(alphabet="abc-.", max_size=8)),
    st.builds(lambda s: s + "\n", st.sampled_from(["monitoring", "demo", "main", "30090", "ok"])),
    long_text,
)
HUGE_NUMBERS = ["9" * 4301, "-" + "9" * 5000, "0x" + "f" * 5000, "0o" + "7" * 5000, "0b" + "1" * 20000,
                "1" + "_0" * 3000, "1e400", "-1e400", "2147483648", "-2147483649", "4294967296",
                "9223372036854775808", "18446744073709551616", "-0", "0", "-1", ".inf", "-.inf", ".nan", "1e-400",
                "0.1e99999", "99999999999999999999999999999999", "999999999999999999999999999999999"]
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(allow_nan=False, allow_infinity=False), hostile_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every value of a parsed document, mappings and lists included (not the root)."""
    paths: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += leaf_paths(value, (*prefix, index))
    return paths


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def put(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    get(doc, path[:-1])[path[-1]] = value


def delete(doc: Any, path: tuple[Any, ...]) -> None:
    del get(doc, path[:-1])[path[-1]]


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1_000_000)


@st.composite
def structured(draw: st.DrawFn, base: str, kind: str) -> str:
    """``base`` (YAML text) parsed, mutated by ``kind`` and written back as YAML text."""
    doc = yaml.safe_load(base)
    doc = {} if doc is None else doc
    paths = leaf_paths(doc)
    if kind == "control-chars":
        # Every string value (and key) gets a hostile prefix or suffix, the way a bad edit would.
        for path in paths:
            value = get(doc, path)
            if isinstance(value, str):
                suffix = draw(nasty_char)
                put(doc, path, draw(st.sampled_from([value + suffix, suffix + value, value + "\n"])))
        return dump(doc)
    if kind == "huge-numbers":
        targets = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)) if paths else []
        numbers = [draw(st.sampled_from(HUGE_NUMBERS)) for _ in targets]
        for index, path in enumerate(targets):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                put(doc, path, f"@@HUGE{index}@@")
        text = dump(doc)
        for index, number in enumerate(numbers):
            text = text.replace(f"'@@HUGE{index}@@'", number).replace(f"@@HUGE{index}@@", number)
        return text
    if kind == "wrong-types":
        for _ in range(draw(st.integers(1, 3))):
            paths = leaf_paths(doc)
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            operation = draw(st.sampled_from(["replace", "delete", "wrap", "unwrap-to-scalar", "empty"]))
            value = get(doc, path)
            if operation == "replace":
                put(doc, path, draw(json_value))
            elif operation == "delete":
                delete(doc, path)
            elif operation == "wrap":
                put(doc, path, [value])
            elif operation == "unwrap-to-scalar":
                put(doc, path, str(value)[:50])
            else:
                put(doc, path, type(value)() if isinstance(value, dict | list | str) else None)
        return dump(doc)
    assert kind == "valid-mutations", kind
    # Plausible edits: drop a setting, or change a value to another of its own type.
    for _ in range(draw(st.integers(1, 2))):
        paths = [p for p in leaf_paths(doc) if not isinstance(get(doc, p), dict | list)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        value = get(doc, path)
        if draw(st.booleans()) and not isinstance(path[-1], int):
            delete(doc, path)
        elif isinstance(value, bool):
            put(doc, path, not value)
        elif isinstance(value, int):
            put(doc, path, value + draw(st.sampled_from([-1, 1, 2, 10, -value, 2**31])))
        elif isinstance(value, str):
            put(doc, path, draw(st.sampled_from([value.upper(), value + "-x", value[:1], "x" * 63, "a.b", "1"])))
    return dump(doc)


def nested(depth: int, style: str) -> str:
    if style == "flow-list":
        return "[" * depth + "]" * depth
    if style == "flow-map":
        return "{a: " * depth + "1" + "}" * depth
    return "".join(f"\n{'  ' * (level + 1)}k:" for level in range(depth)) + " 1"


@st.composite
def deep_nesting(draw: st.DrawFn, base: str) -> str:
    depth = draw(st.sampled_from([31, 32, 33, 60, 200, 1000, 5000, 100_000]))
    style = draw(st.sampled_from(["flow-list", "flow-map", "block"]))
    if style == "block" and depth > 1000:
        depth = 1000
    key = draw(st.sampled_from(sorted(k for k in (yaml.safe_load(base) or {"x": 1}))))
    return base + f"\n{key}x: " + nested(depth, style) + "\n"


ALIAS_BOMBS: list[Callable[[int, int], str]] = [
    # Billion laughs: every level multiplies by the fan-out.
    lambda levels, fanout: "a0: &a0 [x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]\n" for i in range(1, levels + 1)),
    lambda levels, fanout: "a0: &a0 {k: v}\n" + "".join(
        f"a{i}: &a{i} {{{', '.join(f'k{j}: *a{i - 1}' for j in range(fanout))}}}\n" for i in range(1, levels + 1)),
    lambda levels, fanout: "x: &a [*a]\n",
    lambda levels, fanout: "x: &a {k: *a}\n",
    lambda levels, fanout: "x: *nowhere\n",
    lambda levels, fanout: "a: &a [x]\n" + f"b: {'[' * levels}*a{']' * levels}\n",
    lambda levels, fanout: "&a a: b\n*a : c\n",
]


@st.composite
def alias_bomb(draw: st.DrawFn, base: str) -> str:
    bomb: str = draw(st.sampled_from(ALIAS_BOMBS))(draw(st.integers(1, 12)), draw(st.integers(2, 10)))
    return draw(st.sampled_from([bomb, base + "\n" + bomb]))


MERGES = [
    "base: &b {namespace: x}\nmerged:\n  <<: *b\n",
    "<<: {namespace: team-a}\nnamespace: team-b\n",
    "<<: [{namespace: a}, {namespace: b}]\n",
    "<<: 1\n",
    "<<: [1, 2]\n",
    "<<: [[{a: 1}]]\n",
    "<<: null\n",
    "<<: {}\n<<: {}\n",
    "<<: &m {<<: *m}\n",
    "<<: &m {a: 1}\nb: {<<: [*m, *m, *m]}\n",
    "<<: !!map [a]\n",
    "x: &x {a: 1}\n<<: *x\n",
]


@st.composite
def merge_keys(draw: st.DrawFn, base: str) -> str:
    merge = draw(st.sampled_from(MERGES))
    doc = yaml.safe_load(base) or {}
    mappings = [p for p in leaf_paths(doc) if isinstance(get(doc, p), dict)]
    where = draw(st.sampled_from([(), *mappings]))
    if not where:
        return draw(st.sampled_from([merge, merge + base, base + "\n" + merge]))
    # Indent the merge under one of the document's mappings.
    text = dump(doc)
    head = "\n".join(f"{'  ' * i}{part}:" for i, part in enumerate(where) if isinstance(part, str))
    indent = "  " * len([p for p in where if isinstance(p, str)])
    return head + "\n" + "".join(f"{indent}{line}\n" for line in merge.splitlines()) + "\n" + text


KEYS = [
    "namespace: a\nnamespace: b\n",
    "prometheus:\n  replicas: 1\n  replicas: 2\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: x\n",
    "[1]: x\n",
    "{a: 1}: x\n",
    "1: x\n",
    "null: x\n",
    "~: x\n",
    "true: x\n",
    "1.5: x\n",
    "2001-02-03: x\n",
    "? |\n  multi\n  line\n: x\n",
    "\"a\\nb\": x\n",
    "\"\": x\n",
    "1: a\n'1': b\n",
    "!!binary aGVsbG8=: x\n",
    "!!python/tuple [1, 2]: x\n",
]


@st.composite
def odd_keys(draw: st.DrawFn, base: str) -> str:
    keys = draw(st.sampled_from(KEYS))
    return draw(st.sampled_from([keys, base + "\n" + keys, keys + base]))


@st.composite
def raw_bytes(draw: st.DrawFn, base: str) -> bytes:
    form = draw(st.sampled_from(["binary", "utf-16-bom", "utf-16-le", "utf-16-be", "utf-32", "latin-1",
                                 "bad-byte", "bom-then-bad", "truncated-utf8"]))
    if form == "binary":
        return draw(st.binary(max_size=300))
    if form == "utf-16-bom":
        return base.encode("utf-16")
    if form in ("utf-16-le", "utf-16-be", "utf-32"):
        return base.encode(form)
    if form == "latin-1":
        return (base + "\n# caf\xe9\n").encode("latin-1")
    data = base.encode()
    at = draw(st.integers(0, len(data)))
    bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x00"]))
    if form == "bom-then-bad":
        return b"\xef\xbb\xbf" + data[:at] + bad + data[at:]
    if form == "truncated-utf8":
        return data + "é".encode()[:1]
    return data[:at] + bad + data[at:]


YAML_ALPHABET = st.sampled_from([*":-[]{}&*!|>'\"%@`#,?<= \n\t\r ab01.~", "\x00", "\x85", "é", "\ufeff"])
yaml_soup = st.text(alphabet=YAML_ALPHABET, max_size=120)


def text_input(kind: str, base: str) -> st.SearchStrategy[str] | st.SearchStrategy[bytes]:
    """The strategy of ``kind`` built on ``base``; text or, for the bytes class, bytes."""
    if kind in ("control-chars", "huge-numbers", "wrong-types", "valid-mutations"):
        return structured(base, kind)
    strategies: dict[str, st.SearchStrategy[str] | st.SearchStrategy[bytes]] = {
        "bytes": raw_bytes(base),
        "deep-nesting": deep_nesting(base),
        "alias-bombs": alias_bomb(base),
        "merge-keys": merge_keys(base),
        "odd-keys": odd_keys(base),
        "yaml-soup": yaml_soup,
    }
    return strategies[kind]


def examples(kind: str) -> int:
    """Examples per test: fewer of the slow deep-nesting class (PyYAML takes ~1 s on 100,000 '[')."""
    return 15 if kind == "deep-nesting" else 40


CONFIG_KINDS = ["bytes", "control-chars", "huge-numbers", "deep-nesting", "alias-bombs", "merge-keys", "odd-keys",
                "wrong-types", "valid-mutations", "yaml-soup"]


def as_text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def write(file: Path, data: str | bytes) -> None:
    file.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)


# -- module-wide checks ---------------------------------------------------------------------------

def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for name, content in read_tree(root).items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module", autouse=True)
def module_bounds(request: pytest.FixtureRequest) -> Iterator[None]:
    """dist/ untouched and peak memory bounded across the module; the counts per class, printed at the end.

    Hypothesis caches the constants it finds in the code under test in its home folder (.hypothesis/
    in the working directory) even without an example database: it gets a temporary one instead.
    """
    home = tempfile.mkdtemp(prefix="promstack-hypothesis-")
    set_hypothesis_home_dir(home)

    def restore() -> None:
        set_hypothesis_home_dir(None)
        shutil.rmtree(home, ignore_errors=True)

    request.addfinalizer(restore)
    dist_before = _tree_digest(DIST)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{reader:9} {kind:16} accepted {COUNTS[reader, kind, 'accepted']:4}  "
             f"rejected {COUNTS[reader, kind, 'rejected']:4}"
             for reader, kind in sorted({(r, k) for r, k, _ in COUNTS})]
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    lines.append(f"peak RSS {rss_before} MB -> {rss_after} MB")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:  # printed with or without -s: pytest's capture is paused for it
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line("")
            reporter.write_sep("-", "fuzz: examples per input class")
            for line in lines:
                reporter.write_line(line)
    assert _tree_digest(DIST) == dist_before, "the fuzz run changed dist/"
    assert rss_after - rss_before <= MAX_RSS_GROWTH_MB, f"peak RSS grew by {rss_after - rss_before} MB"


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="promstack-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# -- cluster.yaml ---------------------------------------------------------------------------------

@pytest.mark.parametrize("base_name", sorted(SHIPPED_CLUSTERS))
@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_cluster_yaml(kind: str, base_name: str, scratch: Path) -> None:
    folder = scratch / "clusters" / base_name
    folder.mkdir(parents=True, exist_ok=True)

    @settings(FUZZ, max_examples=examples(kind))
    @given(text_input(kind, SHIPPED_CLUSTERS[base_name]))
    def run(data: str | bytes) -> None:
        write(folder / "cluster.yaml", data)
        loaded = attempt("cluster", kind, lambda: load_cluster(folder), (ConfigError,), [as_text(data)])
        if loaded is not None and isinstance(data, str):
            ACCEPTED.append((kind, base_name, "cluster.yaml", data))

    run()


# -- fleet.yaml -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_fleet_yaml(kind: str, scratch: Path) -> None:
    folder = scratch / "fleet"
    folder.mkdir(exist_ok=True)

    @settings(FUZZ, max_examples=examples(kind))
    @given(text_input(kind, SHIPPED_FLEET))
    def run(data: str | bytes) -> None:
        write(folder / "fleet.yaml", data)
        loaded = attempt("fleet", kind, lambda: load_fleet(folder), (ConfigError,), [as_text(data)])
        if loaded is not None and isinstance(data, str):
            ACCEPTED.append((kind, "demo", "fleet.yaml", data))

    run()


# -- certs.yaml -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_certs_facts(kind: str) -> None:
    @settings(FUZZ, max_examples=examples(kind))
    @given(text_input(kind, SHIPPED_FACTS))
    def run(data: str | bytes) -> None:
        attempt("certs", kind, lambda: parse_facts(data, "clusters/x/certs.yaml"), (CertError,), [as_text(data)])

    run()


# -- 10 MB inputs (a few, not fuzzed) --------------------------------------------------------------

HUGE = "x" * (10 * 1024 * 1024)


@pytest.mark.parametrize("reader", ["cluster", "fleet", "certs", "manifest"])
def test_ten_megabyte_strings(reader: str, scratch: Path) -> None:
    folder = scratch / f"huge-{reader}"
    folder.mkdir()
    if reader == "cluster":
        text = f"namespace: {HUGE}\n"
        write(folder / "cluster.yaml", text)
        attempt(reader, "10MB-string", lambda: load_cluster(folder), (ConfigError,), [text])
    elif reader == "fleet":
        text = f"repoURL: https://{HUGE}\n"
        write(folder / "fleet.yaml", text)
        attempt(reader, "10MB-string", lambda: load_fleet(folder), (ConfigError,), [text])
    elif reader == "certs":
        text = SHIPPED_FACTS.replace("secretName: cm-adapter-serving-certs", f"secretName: {HUGE}")
        attempt(reader, "10MB-string", lambda: parse_facts(text, "certs.yaml"), (CertError,), [text])
    else:
        text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: monitoring\n"
                f"data:\n  big: {HUGE}\n")
        write(folder / "big.yaml", text)
        findings = attempt(reader, "10MB-string", lambda: validate_paths([folder], run_promtool=False,
                                                                         versions=["1.37"]),
                           (InputError, UsageError), [text])
        check_findings(findings or [], [text])


# -- manifests for the gate -----------------------------------------------------------------------

MANIFEST_KINDS = ["deleted-fields", "retyped-fields", "lists", "deep-nesting", "huge-strings", "control-chars",
                  "raw-bytes"]


def check_findings(findings: Sequence[Any], inputs: Sequence[str]) -> None:
    """Each finding, as the gate prints it, obeys the same rules as an error."""
    for finding in findings:
        check_lines([format_line(finding)], inputs)


def _name_like(path: tuple[Any, ...]) -> bool:
    return bool(path) and (path[-1] in ("name", "namespace", "args", "command", "image", "key", "value")
                           or (len(path) > 1 and path[-2] in ("labels", "annotations", "args", "command",
                                                              "matchLabels", "selector")))


@st.composite
def manifest(draw: st.DrawFn, kind: str) -> str | bytes:
    source = draw(st.sampled_from(MANIFESTS))
    text = source.read_text()
    if kind == "raw-bytes":
        data = text.encode()
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 40))
        junk = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(
            [b"\xff", b"\x00", b"\t", b"&a ", b"*a", b"\xc2\x85", b"<<: ", b"- ", b"{", b"!!binary ", b"? "])))
        return data[:at] + junk + data[at + cut:]
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return text  # a fixture that is meant to be broken: as it is
    docs = [d for d in docs if isinstance(d, dict)] or [{}]
    index = draw(st.integers(0, len(docs) - 1))
    doc = docs[index]
    paths = leaf_paths(doc) or [()]
    if kind == "deleted-fields":
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                delete(doc, path)
    elif kind == "retyped-fields":
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                put(doc, path, draw(json_value))
    elif kind == "lists":
        form = draw(st.sampled_from(["envelope", "bare-list", "field-to-list", "items-not-objects"]))
        if form == "envelope":
            docs[index] = {"apiVersion": "v1", "kind": draw(st.sampled_from(["List", "ConfigMapList", "PodList"])),
                           "items": [doc, doc] if draw(st.booleans()) else [doc]}
        elif form == "bare-list":
            return dump([doc, doc])
        elif form == "items-not-objects":
            docs[index] = {"apiVersion": "v1", "kind": "List", "items": draw(json_value)}
        else:
            path = draw(st.sampled_from([p for p in paths if p]) if paths != [()] else st.just(("x",)))
            with contextlib.suppress(KeyError, IndexError, TypeError):
                put(doc, path, [get(doc, path)] * draw(st.integers(0, 3)))
    elif kind == "deep-nesting":
        depth = draw(st.sampled_from([150, 199, 200, 201, 1000, 10_000]))
        path = draw(st.sampled_from(paths))
        style = draw(st.sampled_from(["flow-list", "flow-map"]))
        with contextlib.suppress(KeyError, IndexError, TypeError):
            put(doc, path, "@@DEEP@@") if path else doc.__setitem__("spec", "@@DEEP@@")
        out = dump_all(docs)
        return out.replace("'@@DEEP@@'", nested(depth, style)).replace("@@DEEP@@", nested(depth, style))
    elif kind == "huge-strings":
        path = draw(st.sampled_from(paths))
        value = draw(st.sampled_from(["x", "é", "a b", "\x01"])) * draw(st.sampled_from([200, 300, 70_000]))
        with contextlib.suppress(KeyError, IndexError, TypeError):
            put(doc, path, value) if path else doc.__setitem__("metadata", {"name": value})
    else:
        assert kind == "control-chars", kind
        targets = [p for p in paths if _name_like(p)] or paths
        for path in draw(st.lists(st.sampled_from(targets), min_size=1, max_size=4, unique=True)):
            try:
                target = get(doc, path) if path else None
            except (KeyError, IndexError, TypeError):
                continue  # inside a mapping whose key an earlier step renamed
            char = draw(nasty_char)
            if isinstance(target, str):
                put(doc, path, draw(st.sampled_from([target + char, char + target, target + "\n"])))
            elif isinstance(target, dict) and target:
                key = next(iter(target))
                target[key + char] = target.pop(key)
    return dump_all(docs)


def dump_all(docs: Sequence[Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, width=1_000_000)


@pytest.mark.parametrize("kind", MANIFEST_KINDS)
def test_manifests(kind: str, scratch: Path) -> None:
    folder = scratch / "manifests" / kind
    folder.mkdir(parents=True)

    @settings(FUZZ, max_examples=25)
    @given(manifest(kind))
    def run(data: str | bytes) -> None:
        file = folder / "fuzzed.yaml"
        write(file, data)
        findings = attempt("manifest", kind, lambda: validate_paths([file], run_promtool=False, versions=["1.37"]),
                           (InputError, UsageError), [as_text(data)])
        check_findings(findings or [], [as_text(data)])

    run()


# -- seal -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seal_repo(scratch: Path) -> Path:
    """A throwaway clusters folder with cluster demo and a sealing certificate beside it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256()))
    root = scratch / "seal"
    (root / "clusters" / "demo").mkdir(parents=True)
    (root / "clusters" / "demo" / "cluster.yaml").write_text("namespace: monitoring\n")
    (root / "sealing.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return root


#: Per seal argument: values the command accepts, and hostile ones.
SEAL_VALID: dict[str, st.SearchStrategy[Any]] = {
    "cluster": st.just("demo"),
    "name": st.sampled_from(["grafana-admin", "a", "a.b", "x" * 236]),
    "keys": st.lists(st.sampled_from(["password", "tls.crt", "tls.key", "a" * 253, "_x-1.y"]), min_size=1,
                     max_size=3, unique=True),
    "values": st.lists(st.text(max_size=30), min_size=3, max_size=3),
    "type": st.sampled_from(["Opaque", "bootstrap.kubernetes.io/token", "example.com/x_y"]),
    "cert": st.just("sealing.pem"),
}
SEAL_HOSTILE: dict[str, st.SearchStrategy[Any]] = {
    "cluster": st.sampled_from(["", ".", "..", "a/b", "missing", "demo\n", "\x00", "de\x00mo"]),
    "name": st.one_of(st.sampled_from(["x" * 237, "x" * 254, "cm-adapter-serving-certs", "adapter-serving-certs", "",
                                       "-a", "A", "a..b"]), hostile_text),
    "keys": st.lists(st.one_of(st.sampled_from([".", "..", "..a", "a" * 254, "", "a=b", "password"]), hostile_text),
                     max_size=3),
    "values": st.lists(st.one_of(st.sampled_from(["\udcff", "\x00", "x" * (1024 * 1024 + 1), "=", "\n",
                                                  "x" * 70_000]), hostile_text), min_size=3, max_size=3),
    "type": st.one_of(st.sampled_from(["", "x" * 254, "a/b/c", "/x", "Opaque\n", "kubernetes.io/tls"]), hostile_text),
    "cert": st.sampled_from(["cluster.yaml", "missing.pem", "clusters"]),
}
SEALED_CHECKED = 5


def test_seal(seal_repo: Path) -> None:
    seal = inspect.unwrap(cmd_seal)  # the command itself, without the wrapper that prints its errors
    checked = 0

    @settings(FUZZ, max_examples=100)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        nonlocal checked
        # One argument hostile at a time (or none), so that every check down the line gets its turn.
        hostile = data.draw(st.sampled_from(["none", "none", *SEAL_VALID]))
        drawn = {field: data.draw((SEAL_HOSTILE if field == hostile else SEAL_VALID)[field]) for field in SEAL_VALID}
        cluster, name, kind = drawn["cluster"], drawn["name"], drawn["type"]
        items: list[tuple[str, str]] = list(zip(drawn["keys"], drawn["values"], strict=False))
        scope = data.draw(st.sampled_from(["strict", "namespace-wide", "cluster-wide"]))
        args = argparse.Namespace(
            clusters_dir=str(seal_repo / "clusters"), cluster=cluster, name=name, scope=scope, secret_type=kind,
            from_literal=[f"{k}={v}" for k, v in items], from_file=[], sealing_cert=str(seal_repo / drawn["cert"]),
        )
        inputs = [name, kind, cluster, *(k for k, _ in items), *(v for _, v in items)]
        before = {p.name for p in (seal_repo / "clusters" / "demo").iterdir()}
        code = attempt("seal", f"hostile-{hostile}", lambda: seal(args), (CertError, ConfigError), inputs)
        after = {p.name for p in (seal_repo / "clusters" / "demo").iterdir()}
        if code is None:
            assert after == before, "a refused seal wrote a file"
            return
        assert code == 0
        out = seal_repo / "clusters" / "demo" / f"{name}.sealedsecret.yaml"
        assert out.is_file() and out.parent == seal_repo / "clusters" / "demo"
        doc = parse_sealed_secret(out.read_bytes(), str(out))
        assert doc["metadata"]["name"] == name and sorted(doc["spec"]["encryptedData"]) == sorted(k for k, _ in items)
        if checked < SEALED_CHECKED:  # the gate accepts what seal writes
            checked += 1
            findings = validate_paths([out], run_promtool=False, versions=["1.37"])
            assert findings == [], [str(f) for f in findings]
        out.unlink()

    run()


# -- accepted inputs render and pass the gate -------------------------------------------------------

def spread(pool: Sequence[tuple[str, str, str, str]], count: int) -> list[tuple[str, str, str, str]]:
    """Up to ``count`` distinct inputs, round-robin over the input classes, in a fixed order."""
    by_kind: dict[str, list[tuple[str, str, str, str]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for item in pool:
        if item[1:] not in seen:
            seen.add(item[1:])
            by_kind.setdefault(item[0], []).append(item)
    chosen: list[tuple[str, str, str, str]] = []
    while len(chosen) < count and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < count:
                items = by_kind[kind]
                chosen.append(items.pop(len(items) // 2))
    return chosen


def test_accepted_inputs_render_and_pass_the_gate(scratch: Path) -> None:
    """Accepted inputs (a bounded, evenly spread subset) render and the gate finds nothing in them."""
    from promstack.gitops.synth import synth

    pool = spread(ACCEPTED, RENDERED) or [("shipped", name, "cluster.yaml", text)
                                          for name, text in SHIPPED_CLUSTERS.items()]
    rendered = 0
    for index, (kind, cluster, file_name, text) in enumerate(pool):
        clusters = scratch / "render" / str(index) / "clusters"
        shutil.copytree(CLUSTERS / cluster, clusters / cluster)
        shutil.copy(CLUSTERS / "fleet.yaml", clusters / "fleet.yaml")
        target = clusters / "fleet.yaml" if file_name == "fleet.yaml" else clusters / cluster / file_name
        write(target, text)
        out = scratch / "render" / str(index) / "out"
        # load_cluster checks one file; synth also checks it against the folder's other files (e.g. the
        # sealed serving certificate that adapter.tls.mode sealed needs), and may refuse it, as one error.
        if attempt("render", kind, functools.partial(synth, clusters, out), (ConfigError, CertError), [text]) is None:
            continue
        rendered += 1
        with time_limit(60):
            findings = validate_paths([out])
        assert findings == [], f"{kind} input for {cluster}/{file_name}:\n{text[:2000]}\n" + "\n".join(
            str(f) for f in findings)
    # Most accepted inputs render: the rest fail synth's cross-file checks (a changed namespace no
    # longer matches the folder's SealedSecret; dropping adapter.tls.mode asks for one that is not there).
    assert rendered >= len(pool) // 2, f"only {rendered} of {len(pool)} accepted inputs rendered"
