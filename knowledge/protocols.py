"""The pluggable parts of the knowledge base, as structural protocols (paper-qa style).

Anything with these methods plugs in: another PDF library, a remote embedder, another store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from gg_research.knowledge.records import DocRecord, ExtractedDocument


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


@runtime_checkable
class VectorStore(Protocol):
    def registry(self) -> dict[str, DocRecord]:
        """Completely ingested documents by source."""
        ...

    def add_chunks(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metadatas: list[dict[str, Any]]) -> None: ...

    def register(self, record: DocRecord) -> None:
        """Make a document visible; the last, single write of an ingest."""
        ...

    def unregister(self, source: str) -> None: ...

    def delete_doc_chunks(self, doc_id: str) -> None: ...

    def delete_orphans(self) -> int: ...

    def query(self, embedding: np.ndarray, n: int) -> list[dict[str, Any]]: ...

    def get(self, ids: list[str]) -> list[dict[str, Any]]: ...

    def chunk_texts(self) -> tuple[list[str], list[str]]:
        """(ids, texts) of every chunk of a registered document, for the lexical index."""
        ...
