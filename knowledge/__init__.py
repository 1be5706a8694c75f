"""The knowledge base: PDF and note extraction, section-aware chunking, embeddings, Chroma.

    Ingestor(workspace, config.knowledge).ingest([Path("thesis.pdf")]) -> list[FileResult]
    KnowledgeBase(workspace, config.knowledge).documents() / .remove(ref)

Pluggable parts (knowledge.protocols): DocumentReader, Embedder.
Modules: readers (which reader takes a file: pdf, notes), cleanup, outline (a PDF's bookmarks),
sections (with heading_text), chunking, document_parts (the data passed between those stages),
embedder and onnx_embedder, store (Chroma), lexical (BM25, with spelling and synonyms),
settings (the workspace's [knowledge] settings for the kb commands), knowledge_base (one
workspace's knowledge base), ingest, errors. Search lives in `retrieval`.
"""
