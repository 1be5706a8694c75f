"""Hybrid search (dense + BM25, fused by reciprocal rank), diversification, and the
token-budgeted context block with citation keys."""
