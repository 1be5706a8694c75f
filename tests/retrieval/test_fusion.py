import numpy as np

from gg_research.retrieval.fusion import RRF_K, mmr, rrf, score_fusion


def test_rrf_adds_reciprocal_ranks_across_lists():
    scores = rrf([["a", "b", "c"], ["c", "a"]])
    assert scores["a"] == 1 / (RRF_K + 1) + 1 / (RRF_K + 2)
    assert scores["c"] == 1 / (RRF_K + 3) + 1 / (RRF_K + 1)
    assert scores["b"] == 1 / (RRF_K + 2)
    assert max(scores, key=scores.get) == "a"


def test_score_fusion_keeps_a_clear_dense_winner_that_rrf_buries():
    # The dense side is sure of "answer" (0.71 against 0.40-0.45); BM25 ranks it 8th of 8, just
    # behind topic-word matches of nearly equal score.
    dense = [("answer", 0.71)] + [(f"d{i}", 0.45 - 0.01 * i) for i in range(6)]
    lexical = [(f"d{i}", 10.0 - 0.1 * i) for i in range(6)] + [("other", 9.3), ("answer", 9.2)]
    by_rank = rrf([[c for c, _ in dense], [c for c, _ in lexical]])
    assert sorted(by_rank, key=by_rank.get, reverse=True).index("answer") > 0
    fused = score_fusion(dense, lexical, dense_weight=0.5)
    assert max(fused, key=fused.get) == "answer"
    assert fused["answer"] == 0.5 * 1.0 + 0.5 * 9.2 / 10.0
    assert fused["other"] == 0.5 * 9.3 / 10.0  # not a dense candidate: the dense side's lowest, scaled to 0
    assert all(0.0 <= v <= 1.0 for v in fused.values())
    # The weight moves the balance: all dense, or all BM25.
    only_dense = score_fusion(dense, lexical, dense_weight=1.0)
    assert max(only_dense, key=only_dense.get) == "answer"
    only_lexical = score_fusion(dense, lexical, dense_weight=0.0)
    assert max(only_lexical, key=only_lexical.get) == "d0"


def test_score_fusion_edge_cases():
    assert score_fusion([], []) == {}
    assert score_fusion([("a", 0.3)], []) == {"a": 0.5}  # one dense candidate is the best there is
    assert score_fusion([], [("a", 2.0), ("b", 1.0)], dense_weight=0.5) == {"a": 0.5, "b": 0.25}


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


def test_mmr_puts_a_complete_copy_last_however_relevant():
    vecs = np.stack([_unit([1, 0]), _unit([1, 0]), _unit([0.6, 1])])
    assert mmr([1.0, 0.99, 0.3], vecs, 3) == [0, 2, 1]


def test_mmr_edge_cases():
    assert mmr([], np.zeros((0, 3)), 3) == []
    assert sorted(mmr([0.5, 0.5], np.eye(2), 5)) == [0, 1]
