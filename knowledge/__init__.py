"""The knowledge base: PDF and note extraction, section-aware chunking, embeddings, Chroma."""
