"""Hybrid search over a workspace's knowledge base, as the loop calls it in a warm process.

dense (Chroma, query embedded with the collection's embedder) + lexical (BM25, the query widened
by the glossary of synonyms, knowledge/synonyms.py), each side's scores
under the chunk's prior (front matter weighted down, priors.py), fused by their scaled scores
(`[knowledge] fusion`, `dense_weight`; or by reciprocal rank), then diversified by MMR. Only chunks
of registered (completely ingested) documents are returned; an empty or missing knowledge base
gives [] and never raises. References, contents lists and figure labels (document_parts.EXCLUDED_KINDS)
are left out unless `include` names them.

The order does not depend on k: the candidates are a fixed number per side (POOL) whatever k
is, and MMR's greedy order over them is taken from the start; asking for more than a pool
gives appends the order of a pool four times as large, less what came already. So the first k
results of a query are the same for every larger k.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gg_research.knowledge.document_parts import EXCLUDED_KINDS
from gg_research.knowledge.knowledge_base import KnowledgeBase
from gg_research.knowledge.protocols import Embedder
from gg_research.knowledge.synonyms import expansions, glossary
from gg_research.retrieval.fusion import mmr, rrf, score_fusion
from gg_research.retrieval.passage import Passage
from gg_research.retrieval.priors import chunk_prior

if TYPE_CHECKING:
    from gg_research.config import KnowledgeSection

# Candidates per side for the first ranking: what k = 10 had when the fusion was tuned
# (bench_retrieval.py, 4 per result). Fewer raise the dense side's floor and so its weight in the
# fusion: at 24, answer@1 on the generated thesis fell from 0.844 to 0.781 (0.789 against 0.778 on
# benchmarks/corpus). Only k > POOL takes a second pool.
POOL = 40
POOL_GROWTH = 4
MMR_LAMBDA = 0.7


class Searcher:
    def __init__(self, workspace: Path, config: KnowledgeSection, embedder: Embedder | None = None) -> None:
        self.workspace = Path(workspace).resolve()
        self.config = config
        self.kb = KnowledgeBase(self.workspace, config)
        self._embedder = embedder
        self._reranker: Any = None
        self._dim_checked = False
        if self.kb.exists():
            _ = self.embedder  # load now (once), so the first search of the loop is fast
        # With no store yet the model waits until an ingest makes one: an empty KB costs nothing.

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from gg_research.knowledge.embedder import load_query_embedder

            self._embedder = load_query_embedder(self.config.embedder, self.workspace)
        return self._embedder

    @property
    def reranker(self) -> Any:
        """The configured cross-encoder (retrieval/rerank.py), loaded on first use; None without one."""
        if self._reranker is None and self.config.reranker:
            from gg_research.retrieval.rerank import CrossEncoderReranker

            self._reranker = CrossEncoderReranker(self.config.reranker, self.workspace)
        return self._reranker

    # -- state ---------------------------------------------------------------------------------

    def _live_doc_ids(self) -> set[str]:
        """Doc ids of completely ingested documents; re-read each call so another process's ingest shows."""
        if not self.kb.exists():
            return set()
        store = self.kb.store
        live = {r.doc_id for r in store.registry().values()}
        if live and not self._dim_checked:
            store.check_dim(self.embedder.dim)
            self._dim_checked = True
        return live

    def is_empty(self) -> bool:
        return not self._live_doc_ids()

    # -- the two sides -------------------------------------------------------------------------

    def dense(self, query: str, n: int, live: set[str] | None = None, exclude: tuple[str, ...] = (),
              vector: np.ndarray | None = None) -> list[dict[str, Any]]:
        live = self._live_doc_ids() if live is None else live
        if not live:
            return []
        vector = self.embedder.embed([query])[0] if vector is None else vector
        # Orphans of a killed ingest may sit in the index; ask for a few more and drop them.
        hits = self.kb.store.query(vector, n + 8, exclude)
        return [h for h in hits if (h["meta"] or {}).get("doc_id") in live][:n]

    def lexical(self, query: str, n: int, live: set[str] | None = None, exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        live = self._live_doc_ids() if live is None else live
        if not live:
            return []
        from gg_research.knowledge.lexical import fingerprint

        index = self.kb.lexical(fingerprint(live))
        extra = expansions(query, glossary(self.config.synonyms, self.config.builtin_synonyms))
        return [(cid, s) for cid, s in index.search(query, n, extra, exclude) if cid.split(":")[0] in live]

    # -- the API the loop uses -----------------------------------------------------------------

    def search(self, query: str, k: int = 5, include: tuple[str, ...] = ()) -> list[Passage]:
        """The best `k` passages; `include` brings back kinds left out by default ("references", ...)."""
        if k <= 0 or not query.strip():
            return []
        live = self._live_doc_ids()
        if not live:
            return []
        exclude = tuple(kind for kind in EXCLUDED_KINDS if kind not in include)
        vector = self.embedder.embed([query])[0]
        found: dict[str, Passage] = {}
        pool = POOL
        while len(found) < k:
            order, exhausted = self._ranked(query, pool, live, exclude, vector)
            for p in order:
                found.setdefault(p.chunk_id, p)
            if exhausted:
                break
            pool *= POOL_GROWTH
        return list(found.values())[:k]

    def _ranked(self, query: str, pool: int, live: set[str], exclude: tuple[str, ...], vector: np.ndarray) -> tuple[list[Passage], bool]:
        """MMR's whole order over the best `pool` fused candidates; True when there are no more."""
        dense_hits = self.dense(query, pool, live, exclude, vector)
        lexical_hits = self.lexical(query, pool, live, exclude)
        hits = {h["id"]: h for h in dense_hits}
        missing = [cid for cid, _ in lexical_hits if cid not in hits]
        hits.update({h["id"]: h for h in self.kb.store.get(missing)})
        # Each side's scores under the chunk's prior (front matter down), re-sorted, before fusion:
        # scaling after fusion would leave a title page setting the dense side's top of scale.
        # Chroma's cosine distance is 1 - cosine similarity; a negative cosine counts as 0, so
        # that a prior below 1 can only lower a score.
        prior = {cid: chunk_prior(h["meta"]) for cid, h in hits.items()}
        dense_scored = _by_score([(h["id"], max(0.0, 1.0 - h["distance"]) * prior[h["id"]]) for h in dense_hits])
        lexical_scored = _by_score([(cid, s * prior[cid]) for cid, s in lexical_hits if cid in hits])
        if self.config.fusion == "rrf":
            fused = rrf([[cid for cid, _ in dense_scored], [cid for cid, _ in lexical_scored]])
        else:
            fused = score_fusion(dense_scored, lexical_scored, self.config.dense_weight)
        # Ties broken by chunk id: the order never depends on which side listed a chunk first.
        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))[:pool]
        exhausted = len(dense_hits) < pool
        if not ranked:
            return [], exhausted
        if self.reranker is not None:
            fused = dict(zip(ranked, self.reranker.scores(query, [hits[cid]["text"] or "" for cid in ranked])))
            ranked = sorted(ranked, key=lambda cid: (-fused[cid], cid))
        vectors = np.stack([hits[cid]["embedding"] for cid in ranked])
        texts = [hits[cid]["text"] or "" for cid in ranked]
        order = mmr([fused[cid] for cid in ranked], vectors, len(ranked), lam=MMR_LAMBDA, texts=texts)
        return [Passage.from_hit(hits[ranked[i]], fused[ranked[i]]) for i in order], exhausted

    def get(self, chunk_ids: list[str]) -> list[Passage]:
        """Passages for citation keys, in the given order; unknown or no longer ingested ids skipped."""
        live = self._live_doc_ids()
        wanted = [c for c in dict.fromkeys(chunk_ids) if isinstance(c, str) and c.split(":")[0] in live]
        if not wanted:
            return []
        return [Passage.from_hit(h, 0.0) for h in self.kb.store.get(wanted)]


def _by_score(scored: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Best first (stable: ties keep the side's own order)."""
    return sorted(scored, key=lambda item: -item[1])
