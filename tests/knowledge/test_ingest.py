"""Ingest into a real Chroma store on disk: metadata, no-op re-ingest, replacement, bad files,
crashes mid-ingest, embedder mismatch, notes."""

import hashlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from gg_research.knowledge.errors import DocumentNotFound, EmbedderError, EmbedderMismatchError, StoreError
from gg_research.knowledge.ingest import Ingestor
from gg_research.knowledge.knowledge_base import KnowledgeBase
from gg_research.retrieval.searcher import Searcher
from tests.knowledge.bad_inputs import BAD_INPUTS
from tests.knowledge.kbfixtures import CountingEmbedder
from tests.knowledge.thesis_pdf import write_thesis


def ingest(ws, cfg, embedder, *paths):
    return Ingestor(ws, cfg, embedder=embedder).ingest(list(paths))


def all_chunk_ids(kb):
    return sorted(kb.store._chunks.get(include=[])["ids"]) if kb.store._chunks is not None else []


def test_ingest_stores_chunks_with_their_metadata(workspace, kcfg, embedder, thesis_pdf):
    [res] = ingest(workspace, kcfg, embedder, thesis_pdf)
    assert res.status == "ingested"
    assert res.doc_id == hashlib.sha256(thesis_pdf.read_bytes()).hexdigest()[:12]
    assert res.pages == 8 and res.chunks >= 8 and res.sections >= 12
    kb = KnowledgeBase(workspace, kcfg)
    [doc] = kb.documents()
    assert (doc.source, doc.doc_id, doc.chunks, doc.embedder) == (str(thesis_pdf.resolve()), res.doc_id, res.chunks, "all-MiniLM-L6-v2")
    ids = all_chunk_ids(kb)
    assert ids == sorted(f"{res.doc_id}:{i}" for i in range(res.chunks))
    got = kb.store._chunks.get(ids=ids, include=["metadatas", "documents"])
    metas = {i: m for i, m in zip(got["ids"], got["metadatas"])}
    schedule = [m for m in metas.values() if m["section"] == "3.3.4 Training schedule"]
    assert schedule and schedule[0]["page"] == 4 and schedule[0]["section_number"] == "3.3.4"
    assert schedule[0]["section_title"] == "Training schedule"
    for cid, meta in metas.items():
        assert meta["doc_id"] == res.doc_id and meta["title"] == "GG-Net dissertation"
        assert cid == f"{res.doc_id}:{meta['chunk_index']}"
        assert 1 <= meta["page"] <= meta["page_end"] <= 8
    assert not any("GG-Net: G-code-guided defect segmentation - Dissertation" in t for t in got["documents"])
    # The collection says which embedder made it.
    assert kb.store._chunks.metadata == {"embedder": "all-MiniLM-L6-v2", "dim": 384}
    # The lexical index sits beside the store.
    assert (workspace / ".gg" / "chroma-bm25" / kcfg.collection / "gg-lexical.json").is_file()


def test_same_bytes_again_is_a_no_op(workspace, kcfg, embedder, thesis_pdf):
    [first] = ingest(workspace, kcfg, embedder, thesis_pdf)
    before = KnowledgeBase(workspace, kcfg).documents()
    counting = CountingEmbedder(embedder)
    [again] = Ingestor(workspace, kcfg, embedder=counting).ingest([thesis_pdf])
    assert again.status == "unchanged" and again.doc_id == first.doc_id and again.chunks == first.chunks
    assert counting.calls == 0
    assert KnowledgeBase(workspace, kcfg).documents() == before  # same ingested_at: nothing rewritten
    # The same bytes under another name are recognised too.
    twin = workspace / "copy.pdf"
    shutil.copy(thesis_pdf, twin)
    [dup] = Ingestor(workspace, kcfg, embedder=counting).ingest([twin])
    assert dup.status == "unchanged" and "same content" in dup.message and counting.calls == 0


def test_the_same_text_under_other_bytes_is_recognised(workspace, kcfg, embedder):
    from tests.knowledge.thesis_pdf import thesis_pages, write_pdf

    plain = write_pdf(workspace / "thesis.pdf", thesis_pages())
    locked = write_pdf(workspace / "thesis-locked.pdf", thesis_pages(), owner_password="owner-only")
    assert plain.read_bytes() != locked.read_bytes()
    [first] = ingest(workspace, kcfg, embedder, plain)
    stages: list[tuple[str, str]] = []
    counting = CountingEmbedder(embedder)
    ingestor = Ingestor(workspace, kcfg, embedder=counting, progress=lambda src, stage, done, total: stages.append((src, stage)))
    [dup] = ingestor.ingest([locked])
    assert dup.status == "unchanged" and dup.doc_id == first.doc_id and counting.calls == 0
    assert "same text as thesis.pdf, other bytes" in dup.message and "same text as thesis.pdf" in dup.summary()
    assert [d.source for d in KnowledgeBase(workspace, kcfg).documents()] == ["thesis.pdf"]
    assert stages == [("thesis-locked.pdf", "reading")]


def test_progress_reports_reading_model_load_and_embedding(workspace, kcfg, embedder, thesis_pdf):
    events: list[tuple[str, int, int]] = []
    ingestor = Ingestor(
        workspace, kcfg, embedder_factory=lambda: embedder, progress=lambda src, stage, done, total: events.append((stage, done, total))
    )
    [res] = ingestor.ingest([thesis_pdf])
    stages = list(dict.fromkeys(stage for stage, _, _ in events))
    assert stages == ["reading", "loading the embedder", "embedding"]
    assert events[-1] == ("embedding", res.chunks, res.chunks)


@pytest.mark.slow
def test_a_changed_file_replaces_its_old_chunks(workspace, kcfg, embedder):
    path = write_thesis(workspace / "thesis.pdf", seed=0)
    [old] = ingest(workspace, kcfg, embedder, path)
    write_thesis(path, seed=1)  # same source, other filler text
    [new] = ingest(workspace, kcfg, embedder, path)
    assert new.status == "replaced" and new.doc_id != old.doc_id
    kb = KnowledgeBase(workspace, kcfg)
    assert [(d.source, d.doc_id) for d in kb.documents()] == [("thesis.pdf", new.doc_id)]
    ids = all_chunk_ids(kb)
    assert ids and all(i.startswith(new.doc_id + ":") for i in ids)
    assert len(ids) == new.chunks


def test_bad_files_fail_alone_and_leave_the_store_as_it_was(workspace, kcfg, embedder, thesis_pdf, tmp_path):
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = [writer(bad_dir, thesis_pdf) for writer, _ in BAD_INPUTS.values()]
    reasons = [reason for _, reason in BAD_INPUTS.values()]
    # First call: bad files only, into an empty knowledge base.
    results = ingest(workspace, kcfg, embedder, *bad)
    assert [r.status for r in results] == ["failed"] * len(bad)
    assert KnowledgeBase(workspace, kcfg).documents() == []
    # Second call: the good file among the bad ones still goes in; the bad ones change nothing.
    results = ingest(workspace, kcfg, embedder, bad[0], thesis_pdf, *bad[1:])
    by_path = {r.path: r for r in results}
    assert by_path[str(thesis_pdf)].status == "ingested"
    for path, reason in zip(bad, reasons):
        r = by_path[str(path)]
        assert r.status == "failed", path
        assert r.message.startswith(str(path)) and reason in r.message and "\n" not in r.message
    kb = KnowledgeBase(workspace, kcfg)
    assert [d.source for d in kb.documents()] == [str(thesis_pdf.resolve())]
    assert len(all_chunk_ids(kb)) == by_path[str(thesis_pdf)].chunks


@pytest.mark.slow
def test_a_crash_between_batches_leaves_nothing_half_visible(workspace, embedder, thesis_pdf):
    from gg_research.config import KnowledgeSection

    cfg = KnowledgeSection(batch_size=1)  # 4 chunks a batch: several batches
    path = write_thesis(workspace / "thesis.pdf", seed=0)
    [old] = ingest(workspace, cfg, embedder, path)
    write_thesis(path, seed=2)
    crashing = CountingEmbedder(embedder, fail_on_call=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        Ingestor(workspace, cfg, embedder=crashing).ingest([path])
    kb = KnowledgeBase(workspace, cfg)
    # The first batch of the new version is on disk, but invisible: the old version still answers.
    assert any(not i.startswith(old.doc_id) for i in all_chunk_ids(kb))
    assert [d.doc_id for d in kb.documents()] == [old.doc_id]
    hits = Searcher(workspace, cfg, embedder=embedder).search("warming up the spatial transformer alone", k=5)
    assert hits and all(p.doc_id == old.doc_id for p in hits)
    # The next ingest completes the new version and sweeps the leftovers.
    [new] = ingest(workspace, cfg, embedder, path)
    assert new.status == "replaced"
    ids = all_chunk_ids(KnowledgeBase(workspace, cfg))
    assert ids == sorted(f"{new.doc_id}:{i}" for i in range(new.chunks))


@pytest.mark.slow
def test_a_killed_ingest_process_leaves_no_document(workspace, kcfg, embedder, thesis_pdf):
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from gg_research.config import KnowledgeSection
        from gg_research.knowledge.ingest import Ingestor
        from gg_research.knowledge.store import ChromaStore
        import numpy as np

        class QuickEmbedder:  # stands in for the model so the child starts fast; same name and size
            name, dim, max_tokens = "all-MiniLM-L6-v2", 384, 254
            def embed(self, texts, batch_size=64):
                v = np.random.default_rng(0).normal(size=(len(texts), 384)).astype("float32")
                return v / np.linalg.norm(v, axis=1, keepdims=True)
            def count_tokens(self, texts):
                return [int(len(t.split()) * 1.3) + 1 for t in texts]

        original = ChromaStore.add_chunks
        def add_then_die(self, *args, **kwargs):
            original(self, *args, **kwargs)
            os._exit(9)  # like SIGKILL: no cleanup, no finally
        ChromaStore.add_chunks = add_then_die
        Ingestor(Path({str(workspace)!r}), KnowledgeSection(batch_size=1), embedder=QuickEmbedder()).ingest([{str(thesis_pdf)!r}])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr[-2000:]
    kb = KnowledgeBase(workspace, kcfg)
    assert all_chunk_ids(kb), "the killed process wrote some chunks"
    assert kb.documents() == []
    assert Searcher(workspace, kcfg, embedder=embedder).search("training schedule") == []
    [res] = ingest(workspace, kcfg, embedder, thesis_pdf)
    assert res.status == "ingested"
    assert len(all_chunk_ids(KnowledgeBase(workspace, kcfg))) == res.chunks


def test_the_vector_index_is_persisted_often_so_opening_it_replays_little(workspace, kcfg, embedder, tmp_path):
    from gg_research.knowledge.store import HNSW

    notes = tmp_path / "n.md"
    notes.write_text("# Notes\n\nThe camera sits above the build plate.\n")
    ingest(workspace, kcfg, embedder, notes)
    assert KnowledgeBase(workspace, kcfg).store._chunks.configuration["hnsw"]["sync_threshold"] == HNSW["sync_threshold"] < 1000
    # A collection made by an older version, at Chroma's default of 1000, is tuned at its next ingest.
    old = kcfg.model_copy(update={"collection": "older"})
    store = KnowledgeBase(workspace, old).store
    store.client.create_collection("older", embedding_function=None, metadata={"embedder": "all-MiniLM-L6-v2", "dim": 384},
                                   configuration={"hnsw": {"space": "cosine"}})
    assert store.client.get_collection("older").configuration["hnsw"]["sync_threshold"] == 1000
    [res] = ingest(workspace, old, embedder, notes)
    assert res.status == "ingested"
    assert KnowledgeBase(workspace, old).store._chunks.configuration["hnsw"]["sync_threshold"] == HNSW["sync_threshold"]


def test_another_embedder_against_the_collection_is_a_clear_error(workspace, kcfg, embedder, thesis_pdf):
    from gg_research.knowledge.embedder import packaged_model_path

    ingest(workspace, kcfg, embedder, thesis_pdf)
    other = kcfg.model_copy(update={"embedder": str(packaged_model_path())})
    with pytest.raises(EmbedderMismatchError, match="built with embedder 'all-MiniLM-L6-v2'"):
        Ingestor(workspace, other).ingest([thesis_pdf])
    with pytest.raises(EmbedderMismatchError):
        Searcher(workspace, other, embedder=embedder).search("x")
    # Same name, other dimension (a swapped model folder): caught when the embedder is first used.
    narrow = CountingEmbedder(embedder, dim=8)
    notes = workspace / "n.md"
    notes.write_text("# N\n\nSome text about toolpaths.\n")
    with pytest.raises(EmbedderMismatchError, match="384-d"):
        Ingestor(workspace, kcfg, embedder=narrow).ingest([notes])


def test_markdown_and_text_notes_ingest_with_sections(workspace, kcfg, embedder):
    md = workspace / "notes.md"
    md.write_text(
        "# Lab notes\n\nIntro line.\n\n## 2.1 Warm-up trials\n\nThe STN warm-up collapsed PBQC twice.\n\n"
        "## Loss weights\n\nDoubling the alignment weight helped; five times collapsed it.\n"
    )
    txt = workspace / "todo.txt"
    txt.write_text("Try cosine annealing with warm restarts.\n\nCheck gradient clipping of the STN.\n")
    results = ingest(workspace, kcfg, embedder, md, txt)
    assert [r.status for r in results] == ["ingested", "ingested"]
    assert results[0].sections == 3
    kb = KnowledgeBase(workspace, kcfg)
    got = kb.store._chunks.get(where={"doc_id": results[0].doc_id}, include=["metadatas", "documents"])
    sections = {m["section"]: d for m, d in zip(got["metadatas"], got["documents"])}
    assert "collapsed PBQC" in sections["2.1 Warm-up trials"]
    assert "five times" in sections["Loss weights"]
    assert {d.title for d in kb.documents()} == {"Lab notes", "todo"}


def test_kb_remove_by_prefix_or_name(workspace, kcfg, embedder, thesis_pdf):
    notes = workspace / "notes.md"
    notes.write_text("# Notes\n\nA single note about nozzle temperature.\n")
    [thesis, note] = ingest(workspace, kcfg, embedder, thesis_pdf, notes)
    kb = KnowledgeBase(workspace, kcfg)
    with pytest.raises(DocumentNotFound, match="no document"):
        kb.remove("zzzz")
    removed = kb.remove(thesis.doc_id[:6])
    assert removed.doc_id == thesis.doc_id
    assert [d.source for d in kb.documents()] == ["notes.md"]
    assert all(i.startswith(note.doc_id) for i in all_chunk_ids(kb))
    kb.remove("notes.md")
    assert kb.documents() == [] and all_chunk_ids(kb) == []
    assert Searcher(workspace, kcfg, embedder=embedder).search("nozzle temperature") == []


def test_store_and_embedder_settings_errors(workspace, kcfg, tmp_path):
    from gg_research.knowledge.embedder import resolve_embedder

    with pytest.raises(StoreError, match="collection 'a b'"):
        _ = KnowledgeBase(workspace, kcfg.model_copy(update={"collection": "a b"})).store
    with pytest.raises(EmbedderError, match="nothing is downloaded"):
        resolve_embedder("no-such-org/no-such-model", workspace)
    (tmp_path / "junk").mkdir()
    with pytest.raises(EmbedderError, match="not a sentence-transformers model"):
        resolve_embedder(str(tmp_path / "junk"), workspace)


def test_a_reader_crash_on_one_file_does_not_stop_the_others(workspace, kcfg, embedder, thesis_pdf):
    from gg_research.knowledge.readers import reader_for

    notes = workspace / "odd.md"
    notes.write_text("# Odd\n\ntext\n")

    class Exploding:
        kind = "markdown"

        def read(self, path, data):
            raise RecursionError("maximum recursion depth exceeded while parsing")

    def readers(path, data):
        return Exploding() if path.name == "odd.md" else reader_for(path, data)

    results = Ingestor(workspace, kcfg, embedder=embedder, reader_factory=readers).ingest([notes, thesis_pdf])
    assert [r.status for r in results] == ["failed", "ingested"]
    assert results[0].message == f"{notes}: cannot extract text (RecursionError: maximum recursion depth exceeded while parsing)"


def test_an_unresolvable_embedder_stops_the_call_before_any_write(workspace, kcfg, thesis_pdf):
    cfg = kcfg.model_copy(update={"embedder": "nobody/nothing-here"})
    with pytest.raises(EmbedderError, match="nothing is downloaded"):
        Ingestor(workspace, cfg).ingest([thesis_pdf])
    assert KnowledgeBase(workspace, kcfg).documents() == []
