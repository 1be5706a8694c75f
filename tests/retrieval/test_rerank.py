"""The cross-encoder plug point (`[knowledge] reranker`), on a tiny model built here."""

from pathlib import Path

import pytest

from gg_research.knowledge.ingest import Ingestor
from gg_research.retrieval.searcher import Searcher

NOTES = "# Lab notes\n\n" + "\n".join(
    f"## {i} {topic}\n\n{text}\n"
    for i, (topic, text) in enumerate([
        ("Nozzle", "The nozzle clogs when the filament absorbed water overnight."),
        ("Bed", "A glass bed needs glue stick for PETG to release cleanly."),
        ("Camera", "The camera exposure was fixed at one eightieth of a second."),
        ("Loss", "Dice loss weighs the rare defect pixels by their overlap."),
        ("Speed", "Printing faster than sixty millimetres per second caused ringing."),
    ], start=1)
)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A one-layer BERT with a single output, random but fixed weights, and MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from gg_research.knowledge.embedder import packaged_model_path

    folder = tmp_path_factory.mktemp("cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_cross_encoder_decides_the_order(workspace, kcfg, embedder, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    (workspace / "notes.md").write_text(NOTES)
    Ingestor(workspace, kcfg, embedder=embedder).ingest([workspace / "notes.md"])
    query = "why does the nozzle clog"
    plain = Searcher(workspace, kcfg, embedder=embedder).search(query, k=5)
    cfg = kcfg.model_copy(update={"reranker": str(tiny_cross_encoder)})
    ranked = Searcher(workspace, cfg, embedder=embedder).search(query, k=5)
    # All five notes are candidates; the (distinct) notes come in the cross-encoder's own order.
    model = CrossEncoder(str(tiny_cross_encoder), device="cpu")
    raw = model.predict([(query, p.text) for p in plain], show_progress_bar=False)
    expected = [p.chunk_id for _, p in sorted(zip(-raw, plain), key=lambda sp: (sp[0], sp[1].chunk_id))]
    assert expected != [p.chunk_id for p in plain]  # the random model disagrees with the search: a real test
    assert [p.chunk_id for p in ranked] == expected
    assert all(0.0 < p.score < 1.0 for p in ranked)
    assert [p.chunk_id for p in Searcher(workspace, cfg, embedder=embedder).search(query, k=2)] == expected[:2]


def test_a_folder_that_is_no_model_is_a_one_line_error(workspace, kcfg, embedder, tmp_path):
    from gg_research.retrieval.errors import RerankerError

    (workspace / "notes.md").write_text(NOTES)
    Ingestor(workspace, kcfg, embedder=embedder).ingest([workspace / "notes.md"])
    cfg = kcfg.model_copy(update={"reranker": "models/none-here"})
    with pytest.raises(RerankerError, match=r"^\[knowledge\] reranker 'models/none-here': .*none-here is not a saved model folder"):
        Searcher(workspace, cfg, embedder=embedder).search("nozzle", k=3)
