"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def gcode_fixtures_dir() -> Path:
    """The real slicer outputs in shared/fixtures/gcode, beside the checkout (CI clones it there)."""
    path = (REPO_ROOT / "../shared/fixtures/gcode").resolve()
    if not path.is_dir():
        pytest.skip(f"real G-code fixtures not found at {path} (shared/ must lie beside the checkout)")
    return path
