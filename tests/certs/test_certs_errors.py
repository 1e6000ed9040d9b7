"""promstack.certs.CertError: one line, and never more than ~80 characters of any user input."""

from __future__ import annotations

import pytest

from promstack.certs import ECHO_LIMIT, PATH_ECHO_LIMIT, CertError, clip, one_line
from promstack.certs.facts import parse_facts


def test_clip_leaves_short_text_alone() -> None:
    assert clip("clusters/demo/certs.yaml") == "clusters/demo/certs.yaml"


def test_clip_keeps_both_ends_of_long_text() -> None:
    text = "/home/someone/" + "deep/" * 50 + "sealing-cert.pem"
    shown = clip(text)
    assert len(shown) == ECHO_LIMIT
    assert shown.startswith("/home/someone/") and shown.endswith("sealing-cert.pem") and "..." in shown


def test_clip_escapes_line_breaks_and_undecodable_bytes() -> None:
    assert clip("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert clip("k\udcffey") == "k\\udcffey"  # what a non-UTF-8 argv byte becomes
    assert clip("\x1b[2J") == "\\x1b[2J"  # no terminal escape sequences


def test_one_line_joins_a_multi_line_library_message() -> None:
    assert one_line("while parsing\n  in line 1\n    a: b: c\n        ^") == "while parsing in line 1 a: b: c ^"


def test_cert_error_clips_source_and_field() -> None:
    error = CertError("x" * 1000, "k" * 1000, "the problem", "the fix")
    text = str(error)
    assert "\n" not in text and len(text) == PATH_ECHO_LIMIT + ECHO_LIMIT + len(": : the problem; the fix")
    assert text.endswith(": the problem; the fix")


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nscope: strict\nsecretName: [" + "x, " * 5000 + "]\n",  # a huge value in a field
        "version: 1\nscope: strict\nsecretName: a: b\n",  # PyYAML's message quotes the line, over 4 lines
        "version: '" + "9" * 5000 + "'\n",
        "version: " + "9" * 5000 + "\n",  # an int past Python's 4300-digit str() limit (found by test_fuzz)
        "version: 1\nscope: strict\nsecretName: 0x" + "f" * 5000 + "\n",
    ],
    ids=["huge-value", "yaml-error", "huge-version", "huge-int-version", "huge-int-field"],
)
def test_malformed_facts_error_is_one_short_line(text: str) -> None:
    with pytest.raises(CertError) as err:
        parse_facts(text, "certs.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert len(message) < 250, message
