"""References, contents and figure labels out of default search; an order that does not depend on k."""

import pytest

from gg_research.knowledge.ingest import Ingestor
from gg_research.retrieval.searcher import POOL, Searcher
from tests.knowledge.outline_pdf import OUTLINE, PAGES, write_outlined


@pytest.fixture(scope="module")
def outlined(tmp_path_factory, embedder):
    from gg_research.config import KnowledgeSection

    ws = tmp_path_factory.mktemp("outlined")
    (ws / "gg-research.toml").write_text("")
    pages = [*PAGES[:4], [*PAGES[3][:1], "copy and crop", "input image tile", "572 x 572", "284", "64 128", "256 512",
                          "Thresholding the U-Net output raised the dice score by about thirty percent."], PAGES[4]]
    outline = [*OUTLINE[:-1], ("3 Results", 5, 0), ("References", 6, 0)]
    cfg = KnowledgeSection()
    [res] = Ingestor(ws, cfg, embedder=embedder).ingest([write_outlined(ws / "outlined.pdf", pages, outline)])
    return ws, cfg, res


def test_references_contents_and_figure_labels_are_left_out_unless_asked(outlined, embedder):
    ws, cfg, res = outlined
    assert res.status == "ingested"
    s = Searcher(ws, cfg, embedder=embedder)
    query = "Ronneberger U-Net MICCAI Long Shelhamer FCN crop image tile 572 contents introduction motivation"
    default = s.search(query, k=20)
    assert default and {p.kind for p in default} == {"body"}
    everything = s.search(query, k=20, include=("references", "contents", "figures"))
    assert {"references", "contents", "figures"} <= {p.kind for p in everything}
    refs = s.search("Ronneberger Fischer MICCAI", k=20, include=("references",))
    assert refs[0].kind == "references" and refs[0].section == "References"
    assert "contents" not in {p.kind for p in refs} and "figures" not in {p.kind for p in refs}
    # Both sides leave them out: the lexical side as well as the dense one.
    assert all(cid.split(":")[0] and s.get([cid])[0].kind == "body" for cid, _ in s.lexical(query, 50, exclude=("references", "contents", "figures")))
    [answer] = [p for p in s.search("how much did a threshold on the U-Net output help", k=3) if "thirty percent" in p.text]
    assert "572" not in answer.text and answer.section == "3 Results"


def test_the_first_k_results_are_the_same_for_every_larger_k(tmp_path, embedder):
    from gg_research.config import KnowledgeSection

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    topics = ["nozzle temperature", "layer height", "dice loss", "learning rate", "camera exposure", "infill density",
              "bed levelling", "print speed", "threshold", "augmentation", "batch size", "warm-up"]
    sections = [
        f"## {i} Note {i}\n\nRun {i} changed the {topics[i % len(topics)]} by {i} percent and the defect dice moved "
        f"by {(i * 7) % 13} points on the {('validation', 'held-out', 'pilot')[i % 3]} prints.\n"
        for i in range(1, 3 * POOL)
    ]
    (ws / "runs.md").write_text("# Runs\n\n" + "\n".join(sections))
    cfg = KnowledgeSection()
    Ingestor(ws, cfg, embedder=embedder).ingest([ws / "runs.md"])
    s = Searcher(ws, cfg, embedder=embedder)
    for query in ("what did the learning rate do to dice", "print speed on held-out prints"):
        full = [(p.chunk_id, p.score) for p in s.search(query, k=2 * POOL)]
        assert len(full) == 2 * POOL and len({cid for cid, _ in full}) == 2 * POOL  # past the first pool, no repeats
        for k in (1, 2, 5, 6, 10, POOL - 1, POOL, POOL + 1):
            assert [(p.chunk_id, p.score) for p in s.search(query, k=k)] == full[:k], k
