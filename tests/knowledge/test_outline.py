"""Sections from the PDF's own outline; headings run into their first sentence; figure labels."""

from pathlib import Path

import pytest

from gg_research.knowledge.chunking import chunk_blocks
from gg_research.knowledge.document_parts import OutlineEntry
from gg_research.knowledge.pdf import PypdfReader
from gg_research.knowledge.sections import label_lines, page_blocks, split_run_in
from tests.knowledge.outline_pdf import OUTLINE, PAGES, write_outlined


def read(path: Path):
    return PypdfReader().read(path, path.read_bytes())


def words(texts):
    return [len(t.split()) for t in texts]


@pytest.fixture(scope="module")
def outlined(tmp_path_factory):
    return read(write_outlined(tmp_path_factory.mktemp("outline") / "outlined.pdf", PAGES, OUTLINE))


def where(blocks, phrase):
    [block] = [b for b in blocks if phrase in b.text]
    return block.section


def test_the_outline_is_read_with_titles_pages_and_levels(outlined):
    assert outlined.outline == [OutlineEntry(t, p, lv) for t, p, lv in OUTLINE]


def test_the_outline_defines_the_sections_and_the_text_places_them(outlined):
    blocks = page_blocks(outlined.pages, outlined.outline)
    # The chapter heading runs into its first sentence on one line: cut there, mid-line.
    assert where(blocks, "This chapter introduces") == "Chapter 1 Introduction"
    assert where(blocks, "The aim of this project") == "1.1 Motivation"
    # A paragraph over the page break stays in its section until the next entry.
    assert where(blocks, "registered against its rendering") == "1.1 Motivation"
    assert where(blocks, "dice loss because") == "2 Method"
    # An unnumbered sub-heading the outline lists is a section, not folded into its parent.
    assert where(blocks, "residuals against the fitted") == "Diagnostic plots"
    # A numbered heading the outline lacks, under an entry, fills the gap.
    assert where(blocks, "weighted twice as much") == "2.1 Loss weighting"
    # Headings are not body text; the title page is before the first entry.
    text = " ".join(b.text for b in blocks)
    assert "1.1 Motivation The aim" not in text and "Diagnostic plots The" not in text
    assert where(blocks, "J. Doe") == ""


def test_chunks_of_an_outlined_pdf_know_their_kind(outlined):
    chunks = chunk_blocks(page_blocks(outlined.pages, outlined.outline), words, chunk_tokens=200, overlap_tokens=0)
    kinds = {c.section: c.kind for c in chunks}
    assert kinds["Contents"] == "contents" and kinds["References"] == "references"
    assert kinds["2 Method"] == kinds["1.1 Motivation"] == "body"
    assert [c.front_matter for c in chunks if "J. Doe" in c.text] == [True]


def test_an_entry_whose_title_is_not_on_its_page_starts_at_the_top_of_it(tmp_path):
    pages = [["The preface of the work comes first."], ["Text of the method as written on the page."]]
    doc = read(write_outlined(tmp_path / "o.pdf", pages, [("Preface", 1, 0), ("3 A title nowhere in the text", 2, 0)]))
    blocks = page_blocks(doc.pages, doc.outline)
    assert where(blocks, "Text of the method") == "3 A title nowhere in the text"
    # "preface" only inside a sentence is not its heading: the section starts at the page's top.
    assert where(blocks, "The preface of the work") == "Preface"


def test_a_pdf_without_an_outline_or_with_one_bookmark_has_none(tmp_path):
    assert read(write_outlined(tmp_path / "a.pdf", PAGES)).outline is None
    assert read(write_outlined(tmp_path / "b.pdf", PAGES, [("Title", 1, 0)])).outline is None


@pytest.mark.parametrize(
    "line, parts",
    [
        ("Chapter 3 Objectives analysis 3.1 Aims of the work The aim of this project is to find defects.",
         ["Chapter 3 Objectives analysis", "3.1 Aims of the work", "The aim of this project is to find defects."]),
        ("1.1 Motivation The aim of this project is to find defects while printing.",
         ["1.1 Motivation", "The aim of this project is to find defects while printing."]),
        ("2.3 Objectives analysis Objectives were set with the sponsor in week one.",
         ["2.3 Objectives analysis", "Objectives were set with the sponsor in week one."]),
        ("3.3.4 Training schedule", ["3.3.4 Training schedule"]),
        ("3 items were used in the study of the network.", ["3 items were used in the study of the network."]),
        ("2.1 Results For Each Dataset", ["2.1 Results For Each Dataset"]),
    ],
)
def test_a_heading_running_into_its_first_sentence_is_cut_off(line, parts):
    assert split_run_in(line) == parts


def test_without_an_outline_run_in_chapter_headings_are_found(tmp_path):
    pages = [
        ["Chapter 1 Introduction This chapter says why defects in printed parts matter at all.", PAGES[2][1]],
        ["Chapter 2 Objectives analysis 2.1 Aims The aim of the project is an early warning.", PAGES[2][1],
         "2.2 Scope We restrict ourselves to fused filament printers with one nozzle only."],
    ]
    doc = read(write_outlined(tmp_path / "plain.pdf", pages))
    blocks = page_blocks(doc.pages, doc.outline)
    assert where(blocks, "why defects") == "Chapter 1 Introduction"
    assert where(blocks, "early warning") == "2.1 Aims"
    assert where(blocks, "fused filament") == "2.2 Scope"


def test_a_run_of_figure_labels_is_a_block_of_its_own():
    prose = "We train the network on rendered layers and compare them with the camera images of each layer."
    lines = [prose, "copy and crop", "input image tile", "572 x 572", "284²", "64", "128", "output segmentation map", prose]
    assert label_lines(lines, typical=len(prose)) == [False] + [True] * 7 + [False]
    blocks = page_blocks(["\n".join(lines)])
    assert [b.kind for b in blocks] == ["", "figures", ""]
    # Short lines of a list or a heading with a sentence after it are not a figure.
    assert not any(label_lines(["Loss Function", prose, "Data", "More data", prose], typical=len(prose)))


def test_a_table_read_one_cell_per_line_is_not_taken_for_figure_labels():
    prose = "The grid search fixed every other setting and compared the learning rates on the same split."
    cells = ["Learning rate", "Epochs", "1e-3", "30", "3e-4", "30", "1e-4", "30"]
    assert not any(label_lines([prose, "Table 2.1: Grid search over the learning rate.", *cells, prose], typical=len(prose)))
    assert all(label_lines([prose, *cells, prose], typical=len(prose))[1:-1])  # without its caption it looks like one
