import pytest

from gg_research.retrieval.context_block import build_context, estimate_tokens
from gg_research.retrieval.passage import Passage


def passage(i: int, words: int = 60, section: str = "3.3.4 Training schedule") -> Passage:
    text = " ".join(f"w{i}x{j}" for j in range(words))
    return Passage(f"abc123:{i}", "abc123", "thesis.pdf", 10 + i, 11 + i, section, text, 0.03)


def word_count(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("budget", [0, 10, 40, 75, 150, 400, 10_000])
def test_block_fits_the_budget(budget):
    block = build_context([passage(i) for i in range(5)], budget, count_tokens=word_count)
    assert word_count(block.text) <= budget
    assert len(block.passages) <= 5
    for p in block.passages:
        assert f"[{p.key()}] thesis.pdf pp. {p.page}-{p.page_end}, §3.3.4 Training schedule" in block.text


def test_whole_passages_in_order_then_one_trimmed_at_a_word():
    # Each passage costs 67 "tokens" (7 of header); 170 leaves room for 28 of the third.
    block = build_context([passage(i) for i in range(3)], 170, count_tokens=word_count)
    assert [p.key() for p in block.passages] == ["abc123:0", "abc123:1", "abc123:2"]
    assert block.passages[0].text == passage(0).text
    last = block.passages[2].text
    assert last.endswith(" …")
    kept = last[: -len(" …")].split()
    assert kept == passage(2).text.split()[: len(kept)]  # a prefix of whole words
    assert 0 < len(kept) < 60


def test_default_estimate_and_budget():
    ps = [passage(i, words=200) for i in range(4)]
    block = build_context(ps, 500)
    assert estimate_tokens(block.text) <= 500
    assert block.passages and block.text.startswith("[abc123:0] thesis.pdf")
    assert build_context([], 500).text == ""


def test_tiny_budget_leaves_passages_out_rather_than_cutting_to_nothing():
    block = build_context([passage(0)], 12, count_tokens=word_count)
    assert block.text == "" and block.passages == []


def test_citation_has_the_ledger_fields():
    p = passage(1, section="")
    # What the ledger records of a passage and the report shows.
    assert set(p.citation()) == {"chunk_id", "source", "document", "page", "page_end", "section", "text", "score", "kind"}
    assert p.where() == "thesis.pdf pp. 11-12"


def test_a_document_is_named_by_its_title_or_file_name_never_its_path():
    p = Passage("abc123:0", "abc123", "/home/jdoe/private/drafts/thesis-v7.pdf", 4, 4, "2.1 Loss", "Dice loss.", 0.5)
    assert p.where() == "thesis-v7.pdf p. 4, §2.1 Loss"
    p.title = "GG-Net: defect segmentation"
    p.kind = "references"
    block = build_context([p], 500)
    assert block.text.startswith("[abc123:0] GG-Net: defect segmentation p. 4, §2.1 Loss [references]\n")
    assert "/home/jdoe" not in block.text and p.citation()["document"] == "GG-Net: defect segmentation"
