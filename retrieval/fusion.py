"""Reciprocal-rank fusion of ranked lists, and maximal-marginal-relevance diversification."""

from __future__ import annotations

from typing import Hashable, Sequence, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)

RRF_K = 60  # the usual constant: damps the head of each list so one list alone cannot dominate
SAME_PAGE_SIMILARITY = 0.9  # two chunks of one page count as near-duplicates whatever their vectors say


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
) -> list[int]:
    """Indices of `k` items chosen greedily by lam*relevance - (1-lam)*max similarity to the chosen.

    `relevance` is divided by its maximum (not min-max scaled, which would zero the last
    candidate however relevant); `embeddings` are unit rows. Items sharing a `groups` value
    (a page) are treated as at least SAME_PAGE_SIMILARITY alike.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    rel = rel / rel.max() if rel.max() > 0 else np.ones(n)
    sim = np.asarray(embeddings, dtype=np.float64) @ np.asarray(embeddings, dtype=np.float64).T
    if groups is not None:
        g = np.asarray([hash(x) for x in groups])
        same = g[:, None] == g[None, :]
        sim = np.where(same, np.maximum(sim, SAME_PAGE_SIMILARITY), sim)
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = lam * rel - (1 - lam) * penalty
        score[~available] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, sim[best])
    return chosen
