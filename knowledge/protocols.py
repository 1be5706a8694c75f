"""The pluggable parts of the knowledge base, as structural protocols (paper-qa style).

Anything with these methods plugs in: another PDF library (`Ingestor(reader_factory=...)`), another
embedder (`Ingestor(embedder=...)`, `Searcher(embedder=...)`). The store is Chroma by design,
persistent on disk or a server by URL (`[knowledge] store`), so it has no protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable
from collections.abc import Sequence

import numpy as np

from gg_research.knowledge.document_parts import ExtractedDocument


@runtime_checkable
class DocumentReader(Protocol):
    """Turns one file into cleaned-up text per page; raises DocumentError on bad input."""

    kind: str

    def read(self, path: Path, data: bytes) -> ExtractedDocument: ...


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int  # longest input (in its own tokens, special tokens excluded) it embeds untruncated

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 rows, one per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...
