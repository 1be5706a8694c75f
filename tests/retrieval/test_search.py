"""Hybrid search over a generated thesis in a real Chroma store."""

import shutil

import pytest

from gg_research.knowledge.ingest import Ingestor
from gg_research.retrieval.fusion import RRF_K
from gg_research.retrieval.searcher import Searcher
from tests.knowledge.thesis_pdf import RARE_ACRONYM


@pytest.fixture(scope="module")
def kb(tmp_path_factory, embedder, thesis_pdf):
    from gg_research.config import KnowledgeSection

    ws = tmp_path_factory.mktemp("kb")
    (ws / "gg-research.toml").write_text("")
    cfg = KnowledgeSection()
    [res] = Ingestor(ws, cfg, embedder=embedder).ingest([thesis_pdf])
    return ws, cfg, res


@pytest.fixture(scope="module")
def searcher(kb, embedder):
    ws, cfg, _ = kb
    return Searcher(ws, cfg, embedder=embedder)


def test_a_differently_phrased_query_finds_the_planted_passage_first(searcher, kb):
    hits = searcher.search("why did pre-training the STN on its own ruin the alignment metric", k=5)
    assert len(hits) == 5
    top = hits[0]
    assert top.section == "3.3.4 Training schedule" and top.page == 4
    assert "Warming up the spatial transformer" in top.text
    assert top.source.endswith("thesis.pdf") and top.doc_id == kb[2].doc_id
    assert top.key() == top.chunk_id and top.chunk_id.startswith(kb[2].doc_id + ":")
    assert [h.score for h in hits][0] == max(h.score for h in hits)


def test_a_rare_acronym_is_found_through_the_lexical_side(searcher):
    lexical = searcher.lexical(RARE_ACRONYM, 10)
    assert len(lexical) == 1  # the term occurs in one chunk only
    planted = lexical[0][0]
    dense = [h["id"] for h in searcher.dense(RARE_ACRONYM, 20)]
    hits = searcher.search(RARE_ACRONYM, k=3)
    assert hits[0].chunk_id == planted and RARE_ACRONYM in hits[0].text
    # Its fused score holds BM25's whole share (the only lexical hit) on top of its dense share.
    assert 0.5 <= hits[0].score <= 1.0
    assert hits[0].score > max(h.score for h in hits[1:])
    # By reciprocal rank: BM25's first place plus whatever rank the dense side gave it.
    by_rank = Searcher(searcher.workspace, searcher.config.model_copy(update={"fusion": "rrf"}), embedder=searcher.embedder)
    top = by_rank.search(RARE_ACRONYM, k=3)[0]
    dense_part = 1 / (RRF_K + dense.index(planted) + 1) if planted in dense else 0.0
    assert top.chunk_id == planted and top.score == pytest.approx(1 / (RRF_K + 1) + dense_part)


def test_a_neighbouring_chunk_with_the_answer_is_kept_and_a_copy_is_dropped(tmp_path, embedder, thesis_pdf):
    from gg_research.config import KnowledgeSection

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    cfg = KnowledgeSection(chunk_tokens=40, overlap_tokens=0)  # page 5 becomes several chunks on rotations
    copy = ws / "copy.md"  # the reflection-padding paragraph again, in a note
    copy.write_text(
        "# Copied notes\n\nRandom rotations beyond fifteen degrees, however, produced image corners without content, "
        "and the network learned to segment these empty corners as defects. Augmenting with rotations therefore "
        "needs padding by reflection.\n"
    )
    Ingestor(ws, cfg, embedder=embedder).ingest([thesis_pdf, copy])
    s = Searcher(ws, cfg, embedder=embedder)
    hits = s.search("with random rotations of the training images, what padding is needed for the empty corners", k=3)
    answers = [h for h in hits if "padding by reflection" in h.text]
    assert len(answers) == 1  # the copy is a near-duplicate of the thesis's chunk: one of them shows
    # A neighbour of the same page and section, on rotations too but with other text, still shows.
    neighbours = [h for h in hits if h.page == 5 and h.section == "3.4 Data augmentation" and h is not answers[0]]
    assert neighbours and all("padding by reflection" not in h.text for h in neighbours)


def test_get_resolves_citation_keys_and_skips_unknown_ones(searcher):
    hits = searcher.search("camera rig lighting", k=3)
    keys = [h.key() for h in hits]
    got = searcher.get([keys[1], "nope:3", "zzzzzzzzzzzz:0", keys[0]])
    assert [p.key() for p in got] == [keys[1], keys[0]]
    assert got[0].text == hits[1].text and got[0].section == hits[1].section


def test_empty_or_missing_knowledge_base_gives_nothing(workspace, kcfg, embedder):
    s = Searcher(workspace, kcfg, embedder=embedder)
    assert s.is_empty() and s.search("anything") == [] and s.get(["a:1"]) == []
    assert not (workspace / ".gg").exists()  # searching never creates a store
    lazy = Searcher(workspace, kcfg)  # no store yet: the model is not even loaded
    assert lazy.search("anything") == [] and lazy.is_empty() and lazy._embedder is None


def test_a_warm_searcher_sees_later_ingests_and_rebuilds_a_lost_lexical_index(workspace, kcfg, embedder, thesis_pdf):
    s = Searcher(workspace, kcfg, embedder=embedder)
    assert s.search("nozzle") == []
    notes = workspace / "notes.md"
    notes.write_text("# Notes\n\n## Printer\n\nThe XQJW nozzle clogs when the filament is wet.\n")
    Ingestor(workspace, kcfg, embedder=embedder).ingest([notes])
    assert s.search("XQJW", k=1)[0].source == "notes.md"
    shutil.rmtree(workspace / ".gg" / "chroma-bm25")
    Ingestor(workspace, kcfg, embedder=embedder).ingest([thesis_pdf])  # a new doc: fingerprint changes
    shutil.rmtree(workspace / ".gg" / "chroma-bm25")
    assert s.lexical("XQJW", 5)[0][0].startswith(s.search("XQJW", k=1)[0].doc_id)


def test_related_sections_of_one_note_are_not_suppressed_as_one_page(workspace, kcfg, embedder):
    # Notes have no pages (all "page 1"): diversity must not treat the whole note as one page.
    notes = workspace / "stn.md"
    notes.write_text(
        "# STN notes\n\n"
        "## 1 Rotation range\n\nWidening the STN rotation range to thirty degrees made PBQC collapse.\n\n"
        "## 2 Scale range\n\nA scale range excluding one made the STN collapse and PBQC fell to zero.\n\n"
        "## 3 Warm-up\n\nA separate STN warm-up before joint training collapsed PBQC as well.\n\n"
        "## 4 Lighting\n\nDiffuse ring lighting avoids glare on glossy filament.\n\n"
        "## 5 Slicer\n\nPerimeters are printed before infill at a fifth of a millimetre layer height.\n"
    )
    Ingestor(workspace, kcfg, embedder=embedder).ingest([notes])
    hits = Searcher(workspace, kcfg, embedder=embedder).search("what makes PBQC collapse for the STN", k=3)
    assert {h.section for h in hits} == {"1 Rotation range", "2 Scale range", "3 Warm-up"}


def test_a_title_page_ranks_behind_the_passage_that_answers(tmp_path, embedder):
    from gg_research.config import KnowledgeSection
    from tests.knowledge.thesis_pdf import write_flow

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    # The title page shares the question's words ("G-code", "segmentation"); the answer does not.
    pdf = write_flow(ws / "thesis.pdf", [
        ("lines", ["GG-Net: G-code-guided defect segmentation", "A dissertation by J. Doe"]),
        ("page",),
        ("h", "3.2 Baselines"),
        ("p", "A plain U-Net without toolpath guidance reached a Dice of 0.71 on the real test set. "
              "Its masks bled into the background wherever the printed part was glossy."),
        ("h", "3.3 Runtime"),
        ("p", "Inference takes 23 ms per layer image at full resolution on a single graphics card."),
    ])
    cfg = KnowledgeSection()
    Ingestor(ws, cfg, embedder=embedder).ingest([pdf])
    s = Searcher(ws, cfg, embedder=embedder)
    title = next(h for h in s.kb.store.get([f"{s.search('Doe', k=1)[0].doc_id}:0"]))
    assert title["meta"]["front_matter"] is True and "dissertation by J. Doe" in title["text"]
    hits = s.search("How well did the segmentation model without G-code input do?", k=3)
    assert "0.71" in hits[0].text
    assert any(h.chunk_id == title["id"] for h in hits)  # demoted, not hidden
    # A question about the title page itself still finds it first.
    assert s.search("Who wrote the dissertation?", k=1)[0].chunk_id == title["id"]


def _notes_searcher(workspace, kcfg, embedder, text: str) -> Searcher:
    notes = workspace / "notes.md"
    notes.write_text(text)
    Ingestor(workspace, kcfg, embedder=embedder).ingest([notes])
    return Searcher(workspace, kcfg, embedder=embedder)


def _only_lexical_hit(s: Searcher, query: str) -> str:
    [(chunk_id, _)] = s.lexical(query, 5)
    return s.get([chunk_id])[0].text


@pytest.mark.parametrize("notes, stopwords_only, query, answer", [
    # "what" is in the first note and in every "What ...?" question: it must not make a match.
    ("# Notes\n\n## Idea\n\nThe method compares what was printed against what the slicer planned.\n\n"
     "## Optimiser\n\nWe used AdamW with a weight decay of 0.05.\n",
     "What objective was minimised, and how?", "What weight decay did the optimiser use?", "AdamW"),
    # "each", "were", "many": in the first note and in many questions, about none of them; "above" counts.
    ("# Notes\n\n## Checks\n\nEach layer photograph was checked by hand; operators were slow.\n\n"
     "## Camera\n\nThe camera hung 35 cm above the build plate.\n",
     "How many were there each time?", "What was above?", "above the build plate"),
], ids=["question-words", "function-words-but-prepositions-of-place"])
def test_stopwords_alone_match_nothing_on_the_lexical_side(workspace, kcfg, embedder, notes, stopwords_only, query, answer):
    s = _notes_searcher(workspace, kcfg, embedder, notes)
    assert s.lexical(stopwords_only, 5) == []
    assert answer in _only_lexical_hit(s, query)


def test_british_and_american_spellings_match_on_the_lexical_side(workspace, kcfg, embedder):
    s = _notes_searcher(workspace, kcfg, embedder,
                        "# Notes\n\n## Optimizer\n\nWe used AdamW with a weight decay of 0.05.\n\n"
                        "## Camera\n\nThe colour camera was centred over the bed.\n")
    # The heading says "Optimizer", the question "optimiser": one term to BM25.
    assert "AdamW" in _only_lexical_hit(s, "Which optimiser?")
    assert "colour camera" in _only_lexical_hit(s, "color camera centered")


def test_spelling_rules_leave_short_words_alone():
    from gg_research.knowledge.spelling import american

    assert [american(w) for w in ("optimisers", "localisation", "analysed", "behaviour", "metres", "fibre")] == [
        "optimizers", "localization", "analyzed", "behavior", "meters", "fiber"]
    assert [american(w) for w in ("rise", "wise", "hour", "four", "three", "acre")] == ["rise", "wise", "hour", "four", "three", "acre"]


def test_a_lexical_index_built_with_other_settings_is_rebuilt(workspace, kcfg, embedder):
    import json

    from gg_research.knowledge.lexical import B, INDEX_FORMAT, K1, META_NAME

    notes = workspace / "notes.md"
    notes.write_text("# Notes\n\n## Printer\n\nThe XQJW nozzle clogs when the filament is wet.\n")
    Ingestor(workspace, kcfg, embedder=embedder).ingest([notes])
    s = Searcher(workspace, kcfg, embedder=embedder)
    meta_path = s.kb.lexical_dir / META_NAME
    meta = json.loads(meta_path.read_text())
    assert meta["format"] == INDEX_FORMAT
    # As an older version wrote it: no format stamp (bm25s's 1.5 / 0.75, the short stopword list).
    del meta["format"]
    meta_path.write_text(json.dumps(meta))
    fresh = Searcher(workspace, kcfg, embedder=embedder)
    assert not fresh.kb.lexical_is_current(fresh.kb.current_fingerprint())
    assert fresh.lexical("XQJW", 5)[0][0].startswith(fresh.search("XQJW", k=1)[0].doc_id)
    rebuilt = fresh.kb._lexical
    assert (rebuilt.retriever.k1, rebuilt.retriever.b) == (K1, B)
    assert json.loads(meta_path.read_text())["format"] == INDEX_FORMAT


PRINTER_NOTES = ("# Notes\n\n## Printer\n\nThe nozzle was held at 215 degrees for every PLA print.\n\n"
                 "## Camera\n\nThe camera hung at the far end of the bed, 35 cm up.\n\n"
                 "## Cooling\n\nAt the end of each print the part cooled for ten minutes.\n\n"
                 "## Storage\n\nSpools were dried overnight; the end of a spool was never used.\n")


def test_a_synonym_of_the_field_brings_the_passage_that_uses_the_other_word(workspace, kcfg, embedder):
    s = _notes_searcher(workspace, kcfg, embedder, PRINTER_NOTES)
    query = "How hot was the hot end kept?"
    # "hot end" is the notes' "nozzle": with the glossary the keyword side finds the printer section
    # first (a rare word at half weight beats the common "end"); without it, never.
    assert "215 degrees" in s.get([s.lexical(query, 5)[0][0]])[0].text
    plain = Searcher(workspace, kcfg.model_copy(update={"builtin_synonyms": False}), embedder=embedder)
    texts = [p.text for p in plain.get([cid for cid, _ in plain.lexical(query, 5)])]
    assert texts and not any("215 degrees" in t for t in texts)


def test_the_askers_own_word_outranks_its_synonym(workspace, kcfg, embedder):
    s = _notes_searcher(workspace, kcfg, embedder,
                        "# Notes\n\n## Setup\n\nThe nozzle stayed clean through the run.\n\n"
                        "## Cleaning\n\nThe hot end was wiped on a brass brush before each layer.\n")
    [(first, top), (second, lower)] = s.lexical("hot end", 5)
    assert "brass brush" in s.get([first])[0].text and "stayed clean" in s.get([second])[0].text
    assert lower < top


def test_a_researchers_own_synonyms_come_from_the_config(workspace, kcfg, embedder):
    notes = "# Notes\n\n## Speed\n\nGG-Net predicts one layer in 23 ms on the printer's computer.\n\n## Data\n\nWe printed forty parts.\n"
    assert _notes_searcher(workspace, kcfg, embedder, notes).lexical("How fast is the guided network?", 5) == []
    own = Searcher(workspace, kcfg.model_copy(update={"synonyms": [["GG-Net", "guided network"]]}), embedder=embedder)
    assert "23 ms" in _only_lexical_hit(own, "How fast is the guided network?")


def test_glossary_matches_whole_words_ignoring_case_and_hyphens():
    from gg_research.knowledge.synonyms import BUILTIN, expansions, glossary

    assert expansions("At what temperature was the Hot-End kept?", BUILTIN)[:2] == ["hotend", "nozzle"]
    assert "learning rate" in expansions("ramp-up of the step size", BUILTIN)
    assert expansions("bedrock and lossless codecs", BUILTIN) == []  # no part-word matches
    assert expansions("the loss", glossary([], builtin=False)) == []
    assert expansions("gg net speed", glossary([["GG-Net", "guided network"]], builtin=False)) == ["guided network"]
