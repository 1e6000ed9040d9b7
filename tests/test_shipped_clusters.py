"""The shipped clusters' certificates and the repository's secrets hygiene."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT
from promstack.cli import main


def test_certs_check_passes_on_the_shipped_clusters(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["certs", "check"]) == 0, capsys.readouterr()
    assert "prod-example" in capsys.readouterr().out


# A whole PEM private key block (header, base64 body, footer), not the phrase in a test's assertion.
PEM_PRIVATE_KEY = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]{64,}-----END [A-Z ]*PRIVATE KEY-----")


def test_no_private_key_in_any_tracked_file() -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    offenders = [name for name in tracked.decode().split("\0") if name and (ROOT / name).is_file()
                 and PEM_PRIVATE_KEY.search((ROOT / name).read_bytes())]
    assert not offenders, f"private key material in tracked files: {offenders}"
