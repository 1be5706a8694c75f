"""Extraction of a thesis laid out like real ones (tests/knowledge/thesis_pdf.py `flow_thesis_items`):
section labels, sub-heading chunk boundaries, text clean-up, tables as rows, column order."""

import pytest

from gg_research.knowledge.chunking import chunk_blocks
from gg_research.knowledge.pdf import PypdfReader
from gg_research.knowledge.sections import page_blocks
from tests.knowledge.thesis_pdf import COLUMN_SENTENCE, COMPOUND, FLOW_FACTS, LR_TABLE, flow_thesis_items, write_flow


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    path = write_flow(tmp_path_factory.mktemp("flow") / "flow.pdf", flow_thesis_items(filler=1))
    return PypdfReader().read(path, path.read_bytes())


@pytest.fixture(scope="module")
def blocks(doc):
    return page_blocks(doc.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def section_of(blocks, fact: str) -> str:
    needle = FLOW_FACTS[fact][1]
    [section] = {b.section for b in blocks if needle in b.text}
    return section


def test_every_planted_passage_carries_its_true_section(blocks):
    expected = {
        "fail_rate": "Chapter 1 Introduction",  # "Chapter 1" opens the page: not a running header
        "synthetic": "1.2 Contributions",
        "idea": "Chapter 2 Method",  # not the list item "3 An alignment metric" before it
        "params": "2.1 Spatial transformer",  # the contents line "2.1 ... . . . 5" did not use up 2.1
        "crop": "2.3 Training",
        "hardware": "Chapter 3 Experiments",
        "runtime": "3.4 Runtime",
        "stringing": "4.1 Defect classes",
        "gain": "Chapter 5 Conclusion",
        "future": "5.1 Future work",
        "bound": "A Upper Bounds on IU",  # lettered appendices, with and without a full stop
        "printer2": "B More Results",
    }
    assert {fact: section_of(blocks, fact) for fact in expected} == expected


def test_contents_bibliography_and_list_items_invent_no_sections(blocks):
    sections = {b.section for b in blocks}
    for bad in ("Accessed", "November", "Long", "Ronneberger", "alignment metric", "guided segmentation", ". . ."):
        assert not any(bad in s for s in sections), (bad, sections)
    assert any("[Accessed on: 28 November 2021]" in b.text and b.section == "References" for b in blocks)


def test_unnumbered_sub_headings_bound_the_chunks(blocks):
    chunks = chunk_blocks(blocks, lambda texts: [len(t.split()) for t in texts], chunk_tokens=200, overlap_tokens=20)
    by_fact = {k: [c for c in chunks if FLOW_FACTS[k][1] in c.text] for k in ("crop", "optimizer", "loss", "batch")}
    for fact, sub in (("crop", "Data Transforms"), ("optimizer", "Optimizer"), ("loss", "Loss Function"), ("batch", "Batch Size")):
        [chunk] = by_fact[fact]
        assert chunk.section == "2.3 Training" and chunk.subheading == sub and chunk.text.startswith(sub)
        others = [FLOW_FACTS[k][1] for k in by_fact if k != fact]
        assert not any(o in chunk.text for o in others), chunk.text


def test_text_clean_up_keeps_compounds_joins_breaks_and_spares_superscripts(doc):
    text = flat(" ".join(doc.pages))
    assert f"Like the {COMPOUND} networks" in text  # hyphenated at the line end after "to-"
    assert "pretrained on PASCAL VOC" in text and "PAS-" not in text  # "PAS-|CAL", PASCAL seen elsewhere
    assert "cropped to 284\u00b2 pixels" in text and "2842" not in text
    assert "215 \u00b0C" in text


def test_a_table_is_kept_as_rows_with_its_column_names(doc, blocks):
    caption, header, rows = LR_TABLE
    lines = [ln.strip() for page in doc.pages for ln in page.split("\n")]
    for row in rows:
        assert " | ".join(f"{h}: {v}" for h, v in zip(header, row)) in lines
    chunks = chunk_blocks(blocks, lambda texts: [len(t.split()) for t in texts], chunk_tokens=200, overlap_tokens=20)
    [table_chunk] = [c for c in chunks if "Learning rate: 3e-4" in c.text]
    assert "\nLearning rate: 3e-4 | Epochs: 30 | Batch size: 16 | Dice: 0.836\n" in table_chunk.text


def test_a_page_already_in_column_order_is_not_reordered(doc):
    text = flat(" ".join(doc.pages))
    assert COLUMN_SENTENCE in text  # runs from the left column into the right one
    assert text.index(COLUMN_SENTENCE) < text.index("Figure 4.1: The capture rig")


def test_contents_and_list_of_tables_are_labelled_not_body(blocks):
    # Their lines repeat headings and captions ("2.1 Grid search over the learning rate . . . 7"):
    # as passages they outrank the section that holds the answer and answer nothing themselves.
    assert {"Contents", "List of Tables"} <= {b.section for b in blocks}
    chunks = chunk_blocks(blocks, lambda texts: [len(t.split()) for t in texts], chunk_tokens=200, overlap_tokens=20)
    body = [c for c in chunks if c.kind == "body"]
    assert {c.section for c in body}.isdisjoint({"Contents", "List of Tables"})
    assert not any(". . ." in c.text for c in body)
    assert any(c.section == "2.3 Training" for c in body)
    assert {c.section for c in chunks if c.kind == "contents"} == {"Contents", "List of Tables"}
