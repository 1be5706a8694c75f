"""Fixtures of the harness tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.standin import synthetic_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real synthetic dataset, tiny (24 images of 64 px), generated once per session."""
    return synthetic_dataset(tmp_path_factory.mktemp("synth"))
