"""The tiny ``bios`` scenario, built once per test session (read-only for the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bios_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``audit.scenarios.bios.build_bios(size="tiny", seed=0)``: data, models, case.toml."""
    from audit.scenarios.bios import build_bios

    d = tmp_path_factory.mktemp("bios")
    assert build_bios(d, seed=0, size="tiny") == d / "case.toml"
    return d
