"""Section labels on the real typeset documents of benchmarks/corpus (LaTeX and LibreOffice
Writer, with and without an outline), against the structure of their source."""

import json
import re
from pathlib import Path

import pytest

from gg_research.knowledge.chunking import block_kind
from gg_research.knowledge.pdf import PypdfReader
from gg_research.knowledge.sections import page_blocks

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "corpus"
TRUTH = json.loads((CORPUS / "truth.json").read_text())


def flat(text: str) -> str:
    # Without spaces: pypdf drops some between words on tightly justified lines ("Thischapterintroduces").
    return "".join(re.findall(r"\w+", text.casefold()))


@pytest.mark.parametrize("name", sorted(TRUTH["documents"]))
def test_every_paragraph_is_labelled_with_its_own_section(name):
    path = CORPUS / name
    doc = PypdfReader().read(path, path.read_bytes())
    assert (doc.outline is not None) == ("nooutline" not in name)
    blocks = page_blocks(doc.pages, doc.outline)
    text = [(flat(b.text), flat(b.section_title)) for b in blocks]
    wrong = []
    for section in TRUTH["texts"][TRUTH["documents"][name]]:
        for paragraph in section["text"][:1]:
            # The paragraph's first words; a block may hold only part of a paragraph.
            probe = flat(" ".join(paragraph.split()[:8]))
            labels = {title for body, title in text if probe in body}
            if labels != {flat(section["title"])}:
                wrong.append((section["title"], labels))
    assert not wrong, wrong


@pytest.mark.parametrize("name", ["thesis-latex.pdf", "thesis-writer-nooutline.pdf"])
def test_the_bibliography_and_figure_labels_are_not_body(name):
    path = CORPUS / name
    doc = PypdfReader().read(path, path.read_bytes())
    kinds = {}
    for b in page_blocks(doc.pages, doc.outline):
        kinds.setdefault(block_kind(b), []).append(b.text)
    assert any("Ronneberger" in t for t in kinds["references"])
    assert any("572 x 572" in t for t in kinds["figures"])
    assert not any("Ronneberger" in t or "572 x 572" in t for t in kinds["body"])
    assert any("boosted the dice score by approximately 30%" in " ".join(t.split()) for t in kinds["body"])
