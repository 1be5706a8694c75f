"""Hybrid search (dense + BM25, fused by their scaled scores), diversification, and the
token-budgeted context block with citation keys.

    searcher = Searcher(workspace, config.knowledge)      # loads the embedder once
    passages = searcher.search("why does PBQC collapse", k=5)
    block = build_context(passages, token_budget=1500)     # block.text goes into the prompt
"""

from gg_research.retrieval.context_block import ContextBlock, build_context
from gg_research.retrieval.passage import Passage

__all__ = ["ContextBlock", "Passage", "Searcher", "build_context"]


def __getattr__(name: str):  # Searcher pulls in numpy and the store; load it on first use
    if name == "Searcher":
        from gg_research.retrieval.searcher import Searcher

        return Searcher
    raise AttributeError(name)
