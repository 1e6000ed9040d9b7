"""The pure-Python emitter writes exactly what cdk8s.Yaml.stringify (called through jsii here)
writes, for every shipped file and a fixed corpus of tricky values, and it refuses (Unproven, so
write() falls back to cdk8s) precisely where the corpus says it must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from conftest import DIST
from promstack.gitops.emit import Unproven, stringify
from promstack.gitops.synth import write

DIST_FILES = sorted(DIST.rglob("*.yaml"))

#: Scalars the emitter must write byte-identically wherever they appear, as values and as keys.
EXACT = [
    "", " ", "  ", "x", "true", "True", "TRUE", "false", "yes", "Yes", "YES", "no", "NO", "on", "On", "off",
    "OFF", "y", "Y", "n", "N", "null", "Null", "NULL", "~", "012", "0o12", "0x1F", "0b101", "0b", "1e3", "1E3",
    "1.5", "1.", ".5", ".", "1_000", "1_0.5", ".inf", "-.inf", "+.Inf", ".nan", ".NaN", "+1", "-1", "-0", "1:20",
    "1:20.5", "190:20:30", "1:60", "2001-12-14", "2001-1-1", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43Z", "12-14", "a: b", "a:b", "a:", ":", ": a", "http://x:80/",
    "a #b", "a#b", "#", "#a", "-", "-a", "- a", "-\ta", "--", "?", "?a", "? a", ":a", "*", "*a", "&", "&a", "!",
    "!a", "|", "|a", ">", ">a", "%", "%a", "@", "@a", "`", "`a", "'", "'a'", '"', '"a"', "it's", 'say "hi"',
    "it's \"both\"", "{", "}", "{a}", "[", "]", "[a]", ",", "a,b", ",a", " lead", "trail ", " both ", "a\tb", "\t",
    "\ta", "a\t", "---", "--- a", "a ---", "...", "... a", "%YAML", "$jsii.byref", "<<a", "a<<",
    "x" * 300, " ".join(["word"] * 200), "a" * 1020,
    # line breaks: values get literal blocks (or quotes), keys double quotes
    "a\nb", "a\nb\n", "a\nb\n\n", "a\n\n\n", "\n", "\n\n", "\na", "\n\na", "\n a", " a\nb", "  a\n b\n",
    "a\n b", "a\n\nb", "a\n \nb", "a \nb", "a \nb\n", "a\t\nb", "a\n\tb", "a\n  ", "a\n\t", "a\n ", " \n", "a\n#b",
    "a\n---\nb", "a\n...\n", "%a\nb", "a\n%b", "- a\n- b", "a: b\nc: d", "'q'\nb", '"q"\nb', "it's\n\"x\"\n",
    "x" * 50 + " \n y", "x" * 30 + "\n" + "y" * 30 + " \n\n z", "y" * 45 + "\n\n\nz\n", "z" * 40 + "\n \n",
    "q" * 40 + '\n"x"\n ', "x" * 40 + "\n\n\n  y\n ", "x" * 40 + " \ny \n\n ", "a\n\n" + "b" * 40 + "\n\t",
    "c" * 40 + "\\n \n\\ \n\t\n", "w" * 39 + "\n\n", "line one\nline two\n" * 20,
]
#: Strings the emitter must refuse as values and keys: outside printable ASCII, tab and newline
#: (JavaScript's escapes, lengths and line terminators differ), and the YAML 1.1 merge key.
REFUSED = ["\r", "a\r\nb", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\xa0", "caf\xe9", "\u2192", "\u2028",
           "\U0001f600", "<<"]
#: Keys the emitter must refuse although it writes them as values: integer-like keys (JavaScript
#: objects list them first, in numeric order), jsii's __proto__ (it fails to pass it), long keys
#: (the yaml package makes them explicit ``? key`` entries).
REFUSED_KEYS = ["0", "1", "42", "4294967295", "__proto__", "x" * 1030]

#: Non-string values: (value, written exactly?)
OTHER_VALUES: list[tuple[Any, bool]] = [
    (0, True), (1, True), (-1, True), (42, True), (2**53 - 1, True), (-(2**53 - 1), True), (2**53, False),
    (-(2**63), False), (1.0, True), (0.0, True), (-3.0, True), (1e15, True), (0.5, False), (1.5, False),
    (-0.0, False), (1e300, False), (float("inf"), False), (float("nan"), False), (True, True), (False, True),
    ((1, 2), False), ({1, 2}, False), (b"x", False),
]

def deep(levels: int) -> dict[str, Any]:
    """A map nested ``levels`` deep."""
    doc: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        doc = {"a": doc}
    return doc


#: Collections and documents: (documents, written exactly?)
DOCUMENTS: list[Any] = [
    ([], True),
    ([{}], True),
    ([[]], True),
    ([{"a": 1}, {"b": 2}], True),
    ([{"a": {}, "b": [], "c": [[]], "d": [{}], "e": [[], {}]}], True),
    ([{"a": None}], True),  # jsii drops None entries of a map: {}
    ([{"a": None, "b": 1, "c": {"d": None}}], True),
    ([[None, {"a": None}, [None]]], True),
    ([{"a": [{"b": 1, "c": [1, 2]}, {"d": {"e": []}}, {"f": [{"g": "h\ni\n"}]}]}], True),
    ([{"a": [[1, [2, [3, "x\ny"]]], [], [{}]]}], True),
    ([[{"a": [{"b": {"c": [{"d": "e"}]}}]}, [[[]]]]], True),
    pytest.param([deep(100), [[[[[[[[[[["x\ny"]]]]]]]]]]]], True, id="100 levels"),
    ([{"a": 1}, {"kind": "X", "metadata": {"name": "n", "labels": {"a": "b"}}}], True),
    (["x"], False),  # a top-level scalar takes another path in the yaml package
    ([None], False),  # jsii passes it as undefined: a lone newline
    ([1], False),
    ([(1, 2)], False),
    ([{1: "a"}], False),
    ([{None: "a"}], False),
    ([{True: "a"}], False),
    ([{"a": {1.5: "b"}}], False),
    ([{"b": 1, "2": 3}], False),
    pytest.param([deep(5000)], False, id="5000 levels"),  # beyond Python's recursion limit
]


def places(scalar: Any) -> dict[str, dict[str, Any]]:
    """Documents that put ``scalar`` as a value at several depths (the indentation of a block
    scalar's lines, a sequence item)."""
    return {
        "value": {"k": scalar},
        "item": {"k": [scalar, {"n": scalar}]},
        "deep value": {"a": [{"b": {"c": scalar}}], "d": [[scalar]]},
    }


def key_places(key: str) -> dict[str, dict[str, Any]]:
    """Documents that use ``key`` as a key at the top level and deeper (a key at the first level
    quotes a document marker, deeper ones do not)."""
    return {"key": {key: "v", "z": 1}, "deep key": {"a": [{key: {key: [1]}}]}}


def assert_same(docs: list[Any]) -> None:
    assert stringify(docs) == cdk8s.Yaml.stringify(*docs)


@pytest.mark.parametrize("path", DIST_FILES, ids=lambda p: str(p.relative_to(DIST)))
def test_every_shipped_file_is_written_as_cdk8s_writes_it(path: Path) -> None:
    objects = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
    expected = cdk8s.Yaml.stringify(*objects)
    assert expected == path.read_text(encoding="utf-8")
    assert stringify(objects) == expected


@pytest.mark.parametrize("scalar", EXACT, ids=repr)
def test_strings_are_written_exactly(scalar: str) -> None:
    for where, doc in {**places(scalar), **key_places(scalar)}.items():
        assert stringify([doc]) == cdk8s.Yaml.stringify(doc), where


@pytest.mark.parametrize("scalar", REFUSED + REFUSED_KEYS, ids=repr)
def test_unproven_strings_are_refused(scalar: str) -> None:
    docs = {**places(scalar), **key_places(scalar)}
    refused = docs if scalar in REFUSED else key_places(scalar)
    for where, doc in docs.items():
        if where in refused:
            with pytest.raises(Unproven):
                stringify([doc])
        else:
            assert_same([doc])


@pytest.mark.parametrize(("value", "exact"), OTHER_VALUES, ids=repr)
def test_other_values(value: Any, exact: bool) -> None:
    for where, doc in places(value).items():
        if exact:
            assert stringify([doc]) == cdk8s.Yaml.stringify(doc), where
        else:
            with pytest.raises(Unproven):
                stringify([doc])


@pytest.mark.parametrize(("docs", "exact"), DOCUMENTS, ids=repr)
def test_collections_and_documents(docs: list[Any], exact: bool) -> None:
    if exact:
        assert_same(docs)
    else:
        with pytest.raises(Unproven):
            stringify(docs)


def test_write_falls_back_to_cdk8s_for_an_unproven_file(tmp_path: Path) -> None:
    objects: list[dict[str, Any]] = [
        {"kind": "ConfigMap", "data": {"greeting": "gr\xfc\xdf dich\n", "0": "zero", "ratio": 0.5}},
        {"kind": "Other"},
    ]
    with pytest.raises(Unproven):
        stringify(objects)
    write([(tmp_path / "x" / "file.yaml", objects)])
    assert (tmp_path / "x" / "file.yaml").read_text(encoding="utf-8") == cdk8s.Yaml.stringify(*objects)
