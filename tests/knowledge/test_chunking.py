import re

import pytest

from gg_research.knowledge.chunking import chunk_blocks, split_sentences
from gg_research.knowledge.document_parts import Block


def words(texts):
    return [len(t.split()) for t in texts]


def test_sentences_split_but_abbreviations_stay():
    s = split_sentences("We used e.g. Adam. Then SGD was tried (Fig. 3 shows it). Done!")
    assert s == ["We used e.g. Adam.", "Then SGD was tried (Fig. 3 shows it).", "Done!"]


def _blocks():
    para = " ".join(f"Sentence number {i} talks about alignment and toolpaths." for i in range(40))
    return [
        Block(para, 1, "3.1", "Schedule"),
        Block("A short closing paragraph of the section.", 2, "3.1", "Schedule"),
        Block("Loss section text. " * 5, 2, "3.2", "Losses"),
    ]


def test_chunks_fit_the_limit_keep_whole_words_and_overlap():
    blocks = _blocks()
    chunks = chunk_blocks(blocks, words, chunk_tokens=30, overlap_tokens=8)
    source_words = set(" ".join(b.text for b in blocks).split())
    for c in chunks:
        assert c.tokens <= 30 and len(c.text.split()) <= 30
        assert set(c.text.split()) <= source_words  # nothing cut mid-word
    schedule = [c for c in chunks if c.section_number == "3.1"]
    # Neighbouring chunks share the last sentence of the first.
    first_tail = split_sentences(schedule[0].text)[-1]
    assert schedule[1].text.startswith(first_tail)
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_never_cross_a_section_and_know_their_pages():
    chunks = chunk_blocks(_blocks(), words, chunk_tokens=30, overlap_tokens=8)
    losses = [c for c in chunks if c.section == "3.2 Losses"]
    assert losses and all("Loss section" in c.text and "alignment" not in c.text for c in losses)
    assert any(c.page == 1 and c.page_end == 2 for c in chunks if c.section_number == "3.1") or chunks[0].page == 1


def test_a_sentence_longer_than_a_chunk_is_cut_between_words():
    long = " ".join(f"word{i}" for i in range(100)) + "."
    chunks = chunk_blocks([Block(long, 1)], words, chunk_tokens=32, overlap_tokens=0)
    assert len(chunks) == 4
    assert " ".join(c.text for c in chunks) == long


def test_real_tokenizer_keeps_chunks_inside_the_window(embedder):
    text = " ".join(
        f"The localisation net-work's {i}th homography parameter (θ_{i}) drifted by {i * 0.37:.2f} px." for i in range(120)
    )
    chunks = chunk_blocks([Block(text, 1)], embedder.count_tokens, chunk_tokens=64, overlap_tokens=16)
    assert len(chunks) > 5
    for c in chunks:
        assert embedder.count_tokens([c.text])[0] <= 64  # counted whole: a seam's word piece included
        assert re.match(r"^The ", c.text)  # every chunk starts at a sentence start


def test_bad_chunk_size_is_refused():
    with pytest.raises(ValueError):
        chunk_blocks([Block("x", 1)], words, chunk_tokens=4, overlap_tokens=0)


def test_chunks_of_a_laid_out_thesis_fit_the_model_window_and_nothing_warns(embedder, tmp_path, capfd):
    import logging

    from gg_research.knowledge.pdf import PypdfReader
    from gg_research.knowledge.sections import page_blocks
    from tests.knowledge.thesis_pdf import flow_thesis_items, write_flow

    path = write_flow(tmp_path / "flow.pdf", flow_thesis_items(filler=2))
    blocks = page_blocks(PypdfReader().read(path, path.read_bytes()).pages)
    long_sentence = " ".join(f"Parameter θ{i} (≈{i * 0.37:.2f}±0.01) drifted." for i in range(150))
    blocks.append(Block(long_sentence.replace(".", ",") + ".", 99, "9", "Long"))
    chunks = chunk_blocks(blocks, embedder.count_tokens, embedder.max_tokens, 32)
    counts = embedder.count_tokens([c.text for c in chunks])
    assert max(counts) <= embedder.max_tokens and any(c.section == "9 Long" for c in chunks)
    assert [c.tokens for c in chunks] == counts
    assert logging.getLogger("transformers.tokenization_utils_base").getEffectiveLevel() >= logging.ERROR
    assert "Token indices sequence length" not in capfd.readouterr().err


def test_text_before_the_first_heading_is_front_matter_only_in_a_document_with_headings():
    title = Block("GG-Net: G-code-guided defect segmentation. A dissertation by J. Doe.", 1)
    body = Block("The decoder uses four upsampling stages with attention gates at every scale.", 2, "2.2", "Segmentation decoder")
    chunks = chunk_blocks([title, body], words, chunk_tokens=60, overlap_tokens=0)
    assert [c.front_matter for c in chunks] == [True, False]
    # A note without any headings is all body, however short.
    [note] = chunk_blocks([Block("The XQJW nozzle clogs when the filament is wet.", 1)], words, chunk_tokens=60, overlap_tokens=0)
    assert not note.front_matter


def test_an_index_under_another_heading_is_labelled_contents_but_prose_with_an_ellipsis_is_body():
    # A back-of-book index whose own heading was not detected ("Function and Data Index" is
    # unnumbered) lands in the appendix before it; its entries are found by their shape.
    blocks = [
        Block("Copying and distribution of this license document is permitted.", 24, "A.1", "GNU Free Documentation License"),
        Block("asn1_array2tree . . . . . . . . . . . . . . . 9 asn1_bit_der . . . . . . . . . . . . 17", 33,
              "A.1", "GNU Free Documentation License"),
        Block("Preface . . . . . . . . . . iii", 34, "A.1", "GNU Free Documentation License"),
        Block("The loss plateaued. . . . 5 epochs later it fell again, which we traced to the warm-up ending "
              "exactly when the learning rate reached its peak.", 12, "4", "Results"),
    ]
    chunks = chunk_blocks(blocks, words, chunk_tokens=60, overlap_tokens=0)
    body = [c for c in chunks if c.kind == "body"]
    text = " ".join(c.text for c in body)
    assert "asn1_array2tree" not in text and "Preface" not in text
    assert "Copying and distribution" in text and "warm-up ending" in text
    assert {c.page for c in body} == {24, 12}
    [index] = [c for c in chunks if c.kind != "body"]
    assert index.kind == "contents" and "asn1_array2tree" in index.text and "Preface" in index.text


def test_references_contents_and_figure_labels_are_chunks_of_their_own_kind():
    blocks = [
        Block("Contents 1 Introduction 3 2 Method 5", 2, "", "Contents"),
        Block("We segment defects with a U-Net trained on dice loss.", 3, "1", "Introduction"),
        Block("copy and crop 572 x 572 64 128", 3, "1", "Introduction", kind="figures"),
        Block("The threshold raised dice by 30%.", 3, "1", "Introduction"),
        Block("[1] Ronneberger, O. U-Net. MICCAI, 2015.", 9, "", "References"),
        Block("[2] Long, J. FCN. CVPR, 2015.", 9, "7", "Bibliography"),
    ]
    chunks = chunk_blocks(blocks, words, chunk_tokens=60, overlap_tokens=0)
    assert [(c.kind, c.page) for c in chunks] == [
        ("contents", 2), ("body", 3), ("figures", 3), ("body", 3), ("references", 9), ("references", 9),
    ]
    # A figure's labels never join the prose around them.
    assert "572" not in chunks[1].text + chunks[3].text
