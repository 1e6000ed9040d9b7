"""promstack.certs.write_files_atomically: all files or none, and a CA key is never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from promstack.certs import PRIVATE_MODE, PUBLIC_MODE, CertError, write_files_atomically


def test_writes_every_file_with_its_mode(tmp_path: Path) -> None:
    a, b = tmp_path / "a.crt", tmp_path / "new" / "b.key"
    write_files_atomically({a: (b"A", PUBLIC_MODE), b: (b"B", PRIVATE_MODE)}, create_only={b})
    assert a.read_bytes() == b"A" and b.read_bytes() == b"B"
    assert a.stat().st_mode & 0o777 == PUBLIC_MODE and b.stat().st_mode & 0o777 == PRIVATE_MODE
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.crt", "b.key", "new"]


def test_a_create_only_file_is_never_overwritten(tmp_path: Path) -> None:
    key, crt, public = tmp_path / "ca.key", tmp_path / "ca.crt", tmp_path / "other.yaml"
    key.write_bytes(b"old key")
    public.write_bytes(b"old")
    with pytest.raises(CertError, match=r"ca\.key: cannot write \(File exists\); no file was changed"):
        write_files_atomically(
            {public: (b"new", PUBLIC_MODE), key: (b"new key", PRIVATE_MODE), crt: (b"new crt", PUBLIC_MODE)},
            create_only={key},
        )
    assert key.read_bytes() == b"old key" and public.read_bytes() == b"old"  # rolled back
    assert not crt.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.key", "other.yaml"]  # no temporary or backup left
