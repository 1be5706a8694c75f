import numpy as np

from gg_research.retrieval.fusion import RRF_K, mmr, rrf


def test_rrf_adds_reciprocal_ranks_across_lists():
    scores = rrf([["a", "b", "c"], ["c", "a"]])
    assert scores["a"] == 1 / (RRF_K + 1) + 1 / (RRF_K + 2)
    assert scores["c"] == 1 / (RRF_K + 3) + 1 / (RRF_K + 1)
    assert scores["b"] == 1 / (RRF_K + 2)
    assert max(scores, key=scores.get) == "a"


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def test_mmr_skips_near_duplicates_for_a_different_relevant_item():
    vecs = np.stack([_unit([1, 0, 0]), _unit([1, 0.01, 0]), _unit([1, 0, 0.01]), _unit([0.3, 1, 0])])
    relevance = [1.0, 0.98, 0.97, 0.9]
    assert mmr(relevance, vecs, 2) == [0, 3]
    assert mmr(relevance, vecs, 2, lam=1.0) == [0, 1]  # pure relevance, for contrast


def test_mmr_drops_the_same_text_but_keeps_a_different_neighbour():
    vecs = np.stack([_unit([1, 0.3]), _unit([1, 0.45]), _unit([1, 0.2])])  # all alike in topic (cos > 0.97)
    texts = [
        "The warm-up of the spatial transformer collapsed the alignment score in every run.",
        "The warm-up of the spatial transformer collapsed the alignment score in every run, we saw.",
        "Padding by reflection avoided empty corners after strong rotations of the image.",
    ]
    assert mmr([1.0, 0.95, 0.9], vecs, 2, texts=texts, duplicate_above=0.999) == [0, 2]
    # Neighbours that only share a topic are not penalised: plain relevance order.
    assert mmr([1.0, 0.95, 0.9], vecs, 2, texts=[texts[0], texts[2], "Another passage entirely."], duplicate_above=0.999) == [0, 1]


def test_mmr_edge_cases():
    assert mmr([], np.zeros((0, 3)), 3) == []
    assert sorted(mmr([0.5, 0.5], np.eye(2), 5)) == [0, 1]
