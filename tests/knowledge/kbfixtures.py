"""Fixtures shared by the knowledge, retrieval and kb CLI tests.

The embedder is loaded once per test session (it is the slow part); each test gets its own
workspace with a real Chroma store on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.knowledge.thesis_pdf import write_thesis

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedder():
    import torch

    torch.set_num_threads(1)  # 2 cores shared by several jobs: one thread avoids spin-waiting
    from gg_research.knowledge.embedder import load_embedder

    return load_embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def thesis_pdf(tmp_path_factory) -> Path:
    return write_thesis(tmp_path_factory.mktemp("thesis") / "thesis.pdf")


@pytest.fixture
def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    return ws


@pytest.fixture
def kcfg():
    from gg_research.config import KnowledgeSection

    return KnowledgeSection()


class CountingEmbedder:
    """Wraps the real embedder; counts calls and can fail on the n-th `embed` call."""

    def __init__(self, inner, fail_on_call: int | None = None, dim: int | None = None, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dim = dim or inner.dim
        self.max_tokens = inner.max_tokens
        self.calls = 0
        self.fail_on_call = fail_on_call

    def embed(self, texts, batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        if self.fail_on_call is not None and self.calls >= self.fail_on_call:
            raise RuntimeError("simulated crash between batches")
        vectors = self.inner.embed(texts, batch_size)
        if self.dim != self.inner.dim:
            vectors = vectors[:, : self.dim]
        return vectors

    def count_tokens(self, texts) -> list[int]:
        return self.inner.count_tokens(texts)
