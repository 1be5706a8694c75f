"""The knowledge base: PDF and note extraction, section-aware chunking, embeddings, Chroma.

    Ingestor(workspace, config.knowledge).ingest([Path("thesis.pdf")]) -> list[FileResult]
    KnowledgeBase(workspace, config.knowledge).documents() / .remove(ref)

Pluggable parts (knowledge.protocols): DocumentReader, Embedder.
Modules: pdf / notes (readers), cleanup, sections, chunking, embedder, store, lexical (BM25),
base (one knowledge base), ingest. Search lives in `retrieval`.
"""
