"""Reciprocal-rank fusion of ranked lists, and maximal-marginal-relevance diversification."""

from __future__ import annotations

from typing import Hashable, Sequence, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)

RRF_K = 60  # the usual constant: damps the head of each list so one list alone cannot dominate
SAME_PAGE_SIMILARITY = 0.9  # two chunks of one page count as near-duplicates whatever their vectors say
DUPLICATE_COSINE = 0.75  # below this cosine two passages are different enough to show both


def rrf(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> dict[K, float]:
    """score(d) = sum over lists of 1 / (k + rank of d), ranks from 1."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def mmr(
    relevance: Sequence[float],
    embeddings: np.ndarray,
    k: int,
    lam: float = 0.7,
    groups: Sequence[Hashable] | None = None,
    duplicate_above: float = DUPLICATE_COSINE,
) -> list[int]:
    """Indices of `k` items chosen greedily by lam*relevance - (1-lam)*max redundancy with the chosen.

    Redundancy is cosine similarity rescaled so that only near-duplicates count: 0 up to
    `duplicate_above`, rising to 1 for identical vectors. Passages that are merely on the same
    topic stay (they are what the query asked for); overlapping chunks and repeated text go.
    Items sharing a `groups` value (one page of one section) count as SAME_PAGE_SIMILARITY
    redundant whatever their vectors say. `relevance` is divided by its maximum (min-max
    scaling would zero the last candidate however relevant); `embeddings` are unit rows.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    rel = rel / rel.max() if rel.max() > 0 else np.ones(n)
    emb = np.asarray(embeddings, dtype=np.float64)
    cos = emb @ emb.T
    redundancy = np.clip((cos - duplicate_above) / (1.0 - duplicate_above), 0.0, 1.0)
    if groups is not None:
        g = np.asarray([hash(x) for x in groups])
        same = g[:, None] == g[None, :]
        redundancy = np.where(same, np.maximum(redundancy, SAME_PAGE_SIMILARITY), redundancy)
    chosen: list[int] = []
    max_red = np.zeros(n)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        score = lam * rel - (1 - lam) * max_red
        score[~available] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        max_red = np.maximum(max_red, redundancy[best])
    return chosen
