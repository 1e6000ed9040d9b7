"""The `constructs` name clash guard (DESIGN §3)."""

from __future__ import annotations

import constructs

from conftest import ROOT


def test_constructs_resolves_to_the_pypi_package() -> None:
    assert "site-packages" in constructs.__file__, (
        f"`import constructs` found {constructs.__file__}; a constructs/__init__.py shadows the PyPI package"
    )


def test_source_root_is_not_a_package() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists()
