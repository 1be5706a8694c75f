"""Shared fixtures of the ggnet tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset (16 samples of 64x64), generated once per test session.

    Tests must not modify it; copy it (`shutil.copytree`) to break it.
    """
    from gg_research.ggnet.synth import generate

    return generate(tmp_path_factory.mktemp("synth") / "ds", n=16, size=64, seed=7)
