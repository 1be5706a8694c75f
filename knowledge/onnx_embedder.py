"""The same sentence-transformers model run by onnxruntime, for processes that only embed queries.

Importing sentence-transformers (with torch, transformers and scikit-learn) takes many seconds,
most of a one-shot `gg-research search`. So the first time the model is loaded with torch (at
ingest, or a first search), its transformer is exported once to ONNX under the cache, keyed by
the model folder's files; afterwards a query is embedded with onnxruntime and the `tokenizers`
library, pooled and normalised as sentence-transformers does. Only the plain layout is exported
(Transformer, mean or CLS pooling, optional Normalize): anything else keeps using torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np

EXPORT_VERSION = "1"  # bump when the export itself changes, so old exports are not reused
ONNX_NAME = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_log = logging.getLogger(__name__)


def model_key(folder: Path) -> str:
    """Of the model folder's files (relative name, size, modification time): cheap to recompute."""
    h = hashlib.sha256(EXPORT_VERSION.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def export_path(folder: Path) -> Path:
    from gg_research.knowledge.embedder import cache_dir

    return cache_dir() / "onnx" / f"{folder.name}-{model_key(folder)}" / ONNX_NAME


def plain_layout(folder: Path) -> dict[str, Any] | None:
    """Pooling and tokenizer settings when the model is Transformer + mean/CLS pooling (+ Normalize)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) or modules[0].get("path", "") != "":
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        bert = json.loads((folder / "sentence_bert_config.json").read_text()) if (folder / "sentence_bert_config.json").is_file() else {}
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    modes = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens") if pooling.get(f"pooling_mode_{k}")]
    if modes not in (["cls_token"], ["mean_tokens"]) or not (folder / "tokenizer.json").is_file():
        return None
    return {
        "pooling": "cls" if modes == ["cls_token"] else "mean",
        "normalize": kinds[-1] == "Normalize",
        "max_seq_length": int(bert.get("max_seq_length") or min(512, int(config.get("max_position_embeddings", 512)))),
        "lower": bool(bert.get("do_lower_case", False)),
        "dim": int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
    }


def export_onnx(st_model: Any, folder: Path) -> Path | None:
    """Export the loaded model's transformer to ONNX once (atomically); None when not possible.

    Never fatal: without an export, queries are embedded with torch as before.
    """
    try:
        target = export_path(folder)
        if target.is_file() or plain_layout(folder) is None:
            return target if target.is_file() else None
        import torch

        auto_model = st_model[0].auto_model

        class _Hidden(torch.nn.Module):  # positional inputs in, last hidden state out
            def __init__(self) -> None:
                super().__init__()
                self.inner = auto_model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
        os.close(fd)
        try:
            ids = torch.ones((2, 16), dtype=torch.long)
            axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
            import warnings

            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer warnings about shapes; parity is tested
                torch.onnx.export(
                    _Hidden().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), tmp,
                    input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
                    opset_version=17, dynamo=False,
                )
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target
    except Exception as exc:  # no onnx package, an odd model, a read-only cache: stay on torch
        _log.debug("ONNX export of %s skipped: %s: %s", folder, type(exc).__name__, exc)
        return None


class OnnxEmbedder:
    """Embedder protocol over an exported model: onnxruntime + tokenizers, no torch."""

    def __init__(self, name: str, folder: Path, onnx_file: Path, layout: dict[str, Any]) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.dim = int(layout["dim"])
        self.max_tokens = int(layout["max_seq_length"]) - 2  # two places go to [CLS] and [SEP]
        self._layout = layout
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        # Busy-waiting worker threads would burn a shared core between queries.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._wanted = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(layout["max_seq_length"]))
        self.tokenizer.no_padding()
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self._layout["lower"] else list(texts)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(self._prepare(texts))
        # Similar lengths batched together pad little (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in INPUTS}
            for r, i in enumerate(rows):
                e = encodings[i]
                n = len(e.ids)
                feed["input_ids"][r, :n] = e.ids
                feed["attention_mask"][r, :n] = 1
                feed["token_type_ids"][r, :n] = e.type_ids
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._wanted})[0]
            out[rows] = _pool(hidden, feed["attention_mask"], self._layout["pooling"])
        if self._layout["normalize"]:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self.counter.encode_batch(self._prepare(texts), add_special_tokens=False)]


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(hidden.dtype)
    return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)


def load_onnx(name: str, folder: Path) -> OnnxEmbedder | None:
    """The ONNX embedder of an already exported model folder, or None (then torch it is)."""
    layout = plain_layout(folder)
    if layout is None:
        return None
    onnx_file = export_path(folder)
    if not onnx_file.is_file():
        return None
    try:
        return OnnxEmbedder(name, folder, onnx_file, layout)
    except Exception as exc:  # a damaged export or a missing runtime: torch still works
        _log.debug("ONNX embedder for %s not used: %s: %s", folder, type(exc).__name__, exc)
        return None
