"""PDF extraction on generated theses: clean-up, reading order, and every kind of bad file."""

import pytest

from gg_research.knowledge.errors import DocumentError
from gg_research.knowledge.pdf import PypdfReader
from gg_research.knowledge.readers import reader_for
from gg_research.knowledge.sections import page_blocks
from tests.knowledge.bad_inputs import BAD_INPUTS, encrypted_pdf
from tests.knowledge.thesis_pdf import HEADER, TWO_COLUMN_LEFT, TWO_COLUMN_RIGHT


@pytest.fixture(scope="module")
def thesis(thesis_pdf):
    return PypdfReader().read(thesis_pdf, thesis_pdf.read_bytes())


def flat(text: str) -> str:
    return " ".join(text.split())


def test_pages_come_clean(thesis):
    assert len(thesis.pages) == 8
    assert thesis.title == "GG-Net dissertation"
    for number, page in enumerate(thesis.pages, start=1):
        assert HEADER not in page and "Dissertation" not in page
        assert str(number) not in [line.strip() for line in page.splitlines()]
    text = flat(" ".join(thesis.pages))
    assert "Defect segmentation of the top layer" in text  # "seg-|mentation" in the source
    assert "seg- mentation" not in text and "seg-mentation" not in text
    assert "efficient rig and the slicer profiles" in text  # ﬃ and ﬁ ligature glyphs


def test_two_column_page_reads_column_by_column(thesis):
    page = flat(thesis.pages[6])
    assert flat(TWO_COLUMN_LEFT) in page
    assert flat(TWO_COLUMN_RIGHT) in page
    assert page.index(flat(TWO_COLUMN_LEFT)) < page.index(flat(TWO_COLUMN_RIGHT))


def test_sections_are_found_with_their_pages(thesis):
    where = {(b.section, b.page) for b in page_blocks(thesis.pages)}
    assert ("3.3.4 Training schedule", 4) in where
    assert ("Chapter 1 Introduction", 1) in where
    assert ("4.1 Experimental setup", 7) in where
    assert ("References", 8) in where


# A missing or empty file is refused before any reader runs (tests/knowledge/test_ingest.py).
READER_KINDS = sorted(set(BAD_INPUTS) - {"missing", "empty"})


@pytest.mark.parametrize("kind", READER_KINDS)
def test_bad_files_get_a_one_line_reason_naming_the_file(kind, tmp_path, thesis_pdf):
    writer, reason = BAD_INPUTS[kind]
    path = writer(tmp_path, thesis_pdf)
    data = path.read_bytes()
    with pytest.raises(DocumentError) as err:
        reader_for(path, data).read(path, data)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert reason in message


def test_encrypted_with_empty_user_password_opens(tmp_path):
    path = encrypted_pdf(tmp_path / "owner-only.pdf", user_password="")
    doc = PypdfReader().read(path, path.read_bytes())
    assert "spatial transformer" in doc.pages[0]
