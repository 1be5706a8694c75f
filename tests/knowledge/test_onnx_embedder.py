"""The ONNX export of the embedder: the same vectors and token counts as sentence-transformers, a
search command that never imports torch, and torch again whenever the export is missing or bad."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gg_research.knowledge.embedder import load_query_embedder, resolve_embedder
from gg_research.knowledge.ingest import Ingestor
from gg_research.knowledge.onnx_embedder import OnnxEmbedder, export_onnx, export_path, load_onnx, plain_layout

TEXTS = [
    "Which learning rate gave the highest Dice in the grid search?",
    "PBQC",
    "Images are cropped to 284\u00b2 pixels; the nozzle was held at 215 \u00b0C (na\u00efve caf\u00e9 \u2014 \u00dcbung).",
    # Longer than the model's window: both must cut it at the same place.
    "The localisation network regresses a homography from the pooled feature map. " * 40,
    "",
]


@pytest.fixture
def exported(embedder, tmp_path, monkeypatch):
    """The packaged model exported into a fresh cache (the model folder itself stays where it is)."""
    folder = resolve_embedder("all-MiniLM-L6-v2")
    monkeypatch.setenv("GG_RESEARCH_CACHE", str(tmp_path / "cache"))
    return folder, export_onnx(embedder.model, folder)


@pytest.mark.slow
def test_onnx_embeddings_and_token_counts_match_sentence_transformers(embedder, exported):
    folder, path = exported
    assert path is not None and path.is_file() and path == export_path(folder)
    onnx = load_onnx("all-MiniLM-L6-v2", folder)
    assert isinstance(onnx, OnnxEmbedder)
    assert (onnx.dim, onnx.max_tokens) == (embedder.dim, embedder.max_tokens)
    ref = embedder.embed(TEXTS)
    for got in (onnx.embed(TEXTS, batch_size=2), np.stack([onnx.embed([t])[0] for t in TEXTS])):  # padded and alone
        assert got.shape == ref.shape and got.dtype == np.float32
        cosine = np.sum(got * ref, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
        assert cosine.min() > 0.9999, cosine
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert onnx.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
    assert onnx.count_tokens([TEXTS[3]])[0] > onnx.max_tokens  # counted whole, not cut
    # A second export is the file already there; the query embedder picks it.
    assert export_onnx(embedder.model, folder) == path
    assert isinstance(load_query_embedder(str(folder)), OnnxEmbedder)


def test_a_missing_or_damaged_export_means_torch(tmp_path, monkeypatch):
    folder = resolve_embedder("all-MiniLM-L6-v2")
    monkeypatch.setenv("GG_RESEARCH_CACHE", str(tmp_path / "cache"))
    assert plain_layout(folder) == {"pooling": "mean", "normalize": True, "max_seq_length": 256, "lower": False, "dim": 384}
    assert load_onnx("all-MiniLM-L6-v2", folder) is None  # nothing exported into this cache yet
    bad = export_path(folder)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not an onnx model")
    assert load_onnx("all-MiniLM-L6-v2", folder) is None


def test_only_the_plain_layout_is_exported(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(resolve_embedder("all-MiniLM-L6-v2"), folder)
    modules = json.loads((folder / "modules.json").read_text())
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    (folder / "modules.json").write_text(json.dumps([*modules[:2], dense]))
    assert plain_layout(folder) is None  # a Dense head the export would leave out
    (folder / "modules.json").write_text(json.dumps(modules))
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_max_tokens": True}))
    assert plain_layout(folder) is None
    pooling.write_text(json.dumps({"word_embedding_dimension": 384, "pooling_mode_cls_token": True}))
    assert plain_layout(folder)["pooling"] == "cls"
    # The export is keyed by the model's files: a changed file is another model.
    before = export_path(folder)
    (folder / "config.json").write_text((folder / "config.json").read_text() + "\n")
    assert export_path(folder) != before


@pytest.mark.slow
def test_the_search_command_loads_no_torch(workspace, kcfg, embedder, thesis_pdf):
    Ingestor(workspace, kcfg, embedder=embedder).ingest([thesis_pdf])
    assert load_onnx("all-MiniLM-L6-v2", resolve_embedder("all-MiniLM-L6-v2")) is not None  # exported when loaded
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gg_research.cli", "search", "what went wrong when the STN was trained alone first", "--json"],
        cwd=workspace, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    hits = json.loads(proc.stdout)
    assert hits[0]["section"] == "3.3.4 Training schedule"
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in imported
    assert not imported & {"torch", "transformers", "sentence_transformers", "sklearn"}
