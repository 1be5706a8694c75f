"""A local cross-encoder that re-scores the fused candidates (`[knowledge] reranker`).

A cross-encoder reads the question and a passage together and scores their relevance; it is
slower than the two-sided search but reads them as a person would. It replaces the fused scores
of the candidate pool (squashed to 0..1 by a sigmoid, so MMR's scaling and the shown scores keep
their range) before diversification. The folder is any sentence-transformers CrossEncoder saved
locally; nothing is downloaded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from gg_research.retrieval.errors import RerankerError


class CrossEncoderReranker:
    def __init__(self, folder: str, workspace: Path) -> None:
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else Path(workspace) / path
        if not (path / "config.json").is_file():
            raise RerankerError(f"[knowledge] reranker {folder!r}: {path} is not a saved model folder (no config.json)")
        try:
            from sentence_transformers import CrossEncoder

            self.model: Any = CrossEncoder(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # a damaged or foreign folder: one line, not a traceback
            raise RerankerError(f"[knowledge] reranker {path}: cannot load ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to the query, in 0..1."""
        if not texts:
            return []
        raw = self.model.predict([(query, t) for t in texts], show_progress_bar=False, convert_to_numpy=True)
        return [1.0 / (1.0 + math.exp(-float(r))) for r in raw.reshape(len(texts), -1)[:, 0]]
