"""The gate's one-pass YAML reader gives what the full reader gives, or leaves the stream to it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from promstack.validate import yamlsafe

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted([*(ROOT / "dist").rglob("*.yaml"), *(Path(__file__).parent / "fixtures").rglob("*.yaml")])


def full(text: str) -> list[yamlsafe.ParsedDocument] | type[Exception]:
    """The full reader's documents, or the type of what it raises."""
    try:
        return yamlsafe._full_documents(text)
    except Exception as exc:  # compared, not handled
        return type(exc)


def test_every_shipped_manifest_is_read_in_one_pass() -> None:
    assert len(MANIFESTS) > 50
    for path in MANIFESTS:
        text = path.read_text(encoding="utf-8")
        one_pass = yamlsafe._one_pass(text)
        expected = full(text)
        if isinstance(expected, type):
            assert one_pass is None, path  # a fixture the full reader refuses
        else:
            assert one_pass is not None, f"{path}: left to the full reader"
            assert one_pass == expected, path


@pytest.mark.parametrize("text", [
    "",
    "# only a comment\n",
    "---\n",
    "---\n...\n---\na: 1\n...\n",
    "a: 1\n---\n---\nb: [x, {c: d}]\n",
    "a:\nb: ~\nc: null\nd: ''\n",
    "n: [1, -2, 0x1F, 0o17, 1_000, 1:30, 1.5, .inf, -.Inf, .nan, 1e3, 6.0e+2]\n",
    "b: [yes, No, on, OFF, true, False, y, n]\n",
    "q: ['1', \"yes\", 'null', \"~\"]\n",
    "d: 2020-01-01\nt: 2001-12-14t21:59:43.10-05:00\n",
    "s: |\n  line 1\n   line 2\nf: >-\n  folded\n  text\n",
    "- a\n- - b\n  - c\n- {x: [1, 2], y: {z: w}}\n",
    "a:\n- 1\n- 2\nb: {}\nc: []\n",
    "a: 1\na: 2\n",
    "a: {x: 1, x: 2}\na: 3\n",  # a value later replaced still has its issues
    "1: a\ntrue: b\n~: c\n0x1F: d\n1.5: e\nyes: f\n.inf: g\n-.inf: h\n.nan: i\n",
    "1: a\n'1': b\n",  # a non-string key, then the same text as a string: a duplicate
    "x:\n  y:\n    - {1: a, b: c, b: d}\n    - z: {on: 1}\n  w: {a: 1, a: 2}\nv: {k: 1, k: 2}\n",
    "outer:\n  - inner:\n      k: 1\n      k: 2\n  - 2: x\n",
    "é: ü\n'a b': \"c\\td\"\n? k\n: v\n",
    "a: " + "[" * 199 + "]" * 199 + "\n",  # as deep as the gate reads (200 levels)
])
def test_the_one_pass_reader_reads_what_the_full_reader_reads(text: str) -> None:
    one_pass = yamlsafe._one_pass(text)
    assert one_pass is not None
    assert one_pass == full(text)


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",
    "a: &x 1\n",
    "base: &b {a: 1}\nm:\n  <<: *b\n",
    "m:\n  <<: {a: 1}\n  b: 2\n",
    "a: !!str 1\n",
    "a: !custom x\n",
    "a: !!binary aGk=\n",
    "a: !!map x\n",
    "? [a, b]\n: c\n",
    "? {a: b}\n: c\n",
    "=: a\n",
    "a: =\n",
    "a: " + "[" * 201 + "]" * 201 + "\n",
    "a: [1, 2\n",
    "a: 1\n b: 2\n",
    "a: 1\n---\nb: [\n",  # an error in a later document
    "a: \x07\n",
])
def test_what_the_one_pass_reader_leaves_is_left_to_the_full_reader(text: str) -> None:
    assert yamlsafe._one_pass(text) is None
    expected = full(text)
    if isinstance(expected, type):
        with pytest.raises(expected):
            yamlsafe.load_documents(text)
    else:
        assert yamlsafe.load_documents(text) == expected


PIECES = ["a", "b", "1", "'1'", "yes", "~", "", "0x1F", "x y", "[", "]", "{", "}", ",", ": ", ":", "- ", "\n",
          "\n  ", "\n    ", "\n- ", "---\n", "# c\n", "&a ", "*a", "!!str ", "<<: ", "? ", "|\n  t\n", "\"q\"",
          "1.5", "=", "\t", "null"]


def test_random_streams_read_the_same_or_are_left_to_the_full_reader() -> None:
    """Token soup: every stream either reads the same both ways, or the one-pass reader leaves it."""
    rng = random.Random(20261206)
    read = left = 0
    for _ in range(6000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))
        one_pass = yamlsafe._one_pass(text)
        expected = full(text)
        if one_pass is None:
            left += 1
        else:
            read += 1
            assert one_pass == expected, repr(text)
    assert read > 1000 and left > 1000  # both ways were taken, many times


def test_key_issues_come_in_the_full_readers_order() -> None:
    """Level by level, then in document order, as PyYAML fills nested collections."""
    text = "a:\n  b: {x: 1, x: 2}\n  b: 1\nc: 1\nc: 2\n"
    [parsed] = yamlsafe.load_documents(text)
    assert [(i.path, i.duplicate) for i in parsed.issues] == [
        (("c",), True), (("a", "b"), True), (("a", "b", "x"), True)]
    assert yaml.safe_load(text) == parsed.data


def _single(text: str) -> yamlsafe.ParsedDocument | type[Exception] | None:
    try:
        return yamlsafe.load_single(text)
    except Exception as exc:  # compared, not handled
        return type(exc)


def _single_full(text: str) -> yamlsafe.ParsedDocument | type[Exception] | None:
    """load_single as it was before the one-pass reader: scan, then libyaml's single node."""
    try:
        yamlsafe.scan(text)
        loader = yamlsafe._Loader(text)
        try:
            node = loader.get_single_node()
            return None if node is None else yamlsafe._construct(loader, node)
        finally:
            loader.dispose()
    except Exception as exc:  # compared, not handled
        return type(exc)


@pytest.mark.parametrize("text", ["", "# c\n", "---\n", "a: 1\n", "a: 1\na: 2\n", "a: 1\n---\nb: 2\n",
                                  "---\n---\n", "a: &x 1\nb: *x\n", "a: [\n"])
def test_a_single_document_reads_as_before(text: str) -> None:
    assert _single(text) == _single_full(text)
