"""Fusion of the dense and lexical lists (by score, or by reciprocal rank), and
maximal-marginal-relevance diversification."""

from __future__ import annotations

import re
from typing import TypeVar
from collections.abc import Hashable, Sequence

import numpy as np

K = TypeVar("K", bound=Hashable)

RRF_K = 60  # the usual constant: damps the head of each list so one list alone cannot dominate
# Near-duplicates only: neighbouring chunks of one section are alike in topic (cosine 0.8 and more)
# and one of them may hold the answer the other lacks; a copy of the same text is what goes.
DUPLICATE_COSINE = 0.92
DUPLICATE_TEXT = 0.5  # share of word trigrams in common (of the shorter text) where redundancy starts
SAME_TEXT = 0.9  # ... and where it is complete
_WORD = re.compile(r"\w+")


def rrf(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> dict[K, float]:
    """score(d) = sum over lists of 1 / (k + rank of d), ranks from 1."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def score_fusion(dense: Sequence[tuple[K, float]], lexical: Sequence[tuple[K, float]], dense_weight: float = 0.5) -> dict[K, float]:
    """A convex combination of each side's scores, scaled to [0, 1] over its own candidates.

    Dense cosines are min-max scaled over the dense candidates (one missing from them counts as
    their lowest); BM25 scores are divided by the best one (a chunk missing from the lexical
    list shares no or few terms: 0). Unlike reciprocal rank, a clear margin counts: a passage
    that only the dense side ranks first, far ahead, stays near the top, and the scores of a side
    whose candidates are all alike hardly move the order.
    """
    top = max((s for _, s in dense), default=0.0)
    low = min((s for _, s in dense), default=0.0)
    best = max((s for _, s in lexical), default=0.0)
    d = dict(dense)
    lex = dict(lexical)
    fused: dict[K, float] = {}
    for item in dict.fromkeys([*d, *lex]):
        dn = (d.get(item, low) - low) / (top - low) if top > low else float(item in d)
        ln = lex.get(item, 0.0) / best if best > 0 else 0.0
        fused[item] = dense_weight * dn + (1.0 - dense_weight) * ln
    return fused


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return frozenset(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))


def text_overlap(texts: Sequence[str]) -> np.ndarray:
    """Pairwise share of word trigrams in common, of the shorter text's (1 on the diagonal)."""
    sets = [shingles(t) for t in texts]
    n = len(sets)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            small = min(len(sets[i]), len(sets[j])) or 1
            out[i, j] = out[j, i] = len(sets[i] & sets[j]) / small
    return out


def mmr(
    relevance: Sequence[float],
    embeddings: np.ndarray,
    k: int,
    lam: float = 0.7,
    texts: Sequence[str] | None = None,
    duplicate_above: float = DUPLICATE_COSINE,
) -> list[int]:
    """Indices of `k` items chosen greedily by lam*relevance - (1-lam)*max redundancy with the chosen.

    Redundancy counts near-duplicates only: cosine similarity rescaled to 0 up to
    `duplicate_above` and 1 for identical vectors, or, with `texts`, the share of word trigrams
    two passages have in common (from DUPLICATE_TEXT to SAME_TEXT), whichever is larger. Passages
    that are merely on the same topic or the same page stay: they are what the query asked for.
    A complete duplicate (redundancy 1) comes after every other candidate.
    `relevance` is divided by its maximum (min-max scaling would zero the last candidate however
    relevant); `embeddings` are unit rows.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    rel = rel / rel.max() if rel.max() > 0 else np.ones(n)
    emb = np.asarray(embeddings, dtype=np.float64)
    cos = emb @ emb.T
    redundancy = np.clip((cos - duplicate_above) / (1.0 - duplicate_above), 0.0, 1.0)
    if texts is not None:
        same = np.clip((text_overlap(texts) - DUPLICATE_TEXT) / (SAME_TEXT - DUPLICATE_TEXT), 0.0, 1.0)
        redundancy = np.maximum(redundancy, same)
    chosen: list[int] = []
    max_red = np.zeros(n)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        # A complete copy of a chosen passage adds nothing, however relevant: it comes only when
        # nothing else is left (with scaled scores, relevance alone can outweigh the penalty).
        score = lam * rel - (1 - lam) * max_red - np.where(max_red >= 1.0, 2.0, 0.0)
        score[~available] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        max_red = np.maximum(max_red, redundancy[best])
    return chosen
