"""Dominance, noise-margin wins, ranks and hypervolume on hand-made cases, and against optuna's own selection."""

from __future__ import annotations

import numpy as np
import pytest

from gg_research.config import Config
from gg_research.results.pareto import (dominates, epsilon_wins, epsilons, gains, hypervolume, nondominated_ranks, pareto_mask,
                                       rank_against, sigmas, to_loss)

MAX2 = ["maximize", "maximize"]
MIN2 = ["minimize", "minimize"]


def test_dominance_follows_each_direction():
    assert dominates([0.7, 0.6], [0.6, 0.6], MAX2)
    assert not dominates([0.6, 0.6], [0.7, 0.6], MAX2)
    assert dominates([0.6, 0.6], [0.7, 0.6], MIN2)
    # Equal points dominate neither way.
    assert not dominates([0.5, 0.5], [0.5, 0.5], MAX2)
    # Mixed: first maximised, second minimised (e.g. Dice up, memory down).
    assert dominates([0.7, 1.0], [0.6, 2.0], ["maximize", "minimize"])
    assert not dominates([0.7, 3.0], [0.6, 2.0], ["maximize", "minimize"])


def test_ranks_maximise_hand_made():
    pts = [
        [0.9, 0.1],  # front
        [0.5, 0.5],  # front
        [0.1, 0.9],  # front
        [0.4, 0.4],  # dominated by (0.5, 0.5) only -> rank 2
        [0.45, 0.05],  # dominated by (0.9, 0.1) and (0.5,0.5) -> rank 2
        [0.3, 0.3],  # dominated by (0.4, 0.4) -> rank 3
    ]
    assert nondominated_ranks(pts, MAX2).tolist() == [1, 1, 1, 2, 2, 3]
    assert pareto_mask(pts, MAX2).tolist() == [True, True, True, False, False, False]


def test_ranks_minimise_reverse_the_order():
    pts = [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [0.5, 4.0]]
    assert nondominated_ranks(pts, MIN2).tolist() == [1, 2, 3, 1]
    assert nondominated_ranks(pts, MAX2).tolist() == [3, 2, 1, 1]


def test_ties_share_a_rank():
    pts = [[0.6, 0.5], [0.6, 0.5], [0.6, 0.4], [0.5, 0.5]]
    ranks = nondominated_ranks(pts, MAX2).tolist()
    assert ranks[0] == ranks[1] == 1
    # Equal on one objective, worse on the other: dominated.
    assert ranks[2] == 2 and ranks[3] == 2


def test_three_objectives_and_one():
    pts = [[1, 1, 1], [2, 0, 1], [0, 0, 0], [1, 1, 0]]
    assert nondominated_ranks(pts, ["maximize"] * 3).tolist() == [1, 1, 3, 2]
    assert nondominated_ranks([[3], [1], [3], [2]], ["minimize"]).tolist() == [3, 1, 3, 2]


def test_rank_against_places_a_new_point_in_its_layer():
    kept = [[0.9, 0.1], [0.5, 0.5], [0.4, 0.4]]
    ranks = nondominated_ranks(kept, MAX2)
    assert rank_against([0.45, 0.45], kept, ranks, MAX2) == 2  # only (0.5, 0.5) beats it
    assert rank_against([0.3, 0.3], kept, ranks, MAX2) == 3
    assert rank_against([0.6, 0.6], kept, ranks, MAX2) == 1


def test_bad_shapes_and_directions_are_refused():
    with pytest.raises(ValueError, match="points must be"):
        to_loss([[1.0, 2.0, 3.0]], MAX2)
    with pytest.raises(ValueError, match="direction"):
        to_loss([[1.0]], ["up"])
    assert nondominated_ranks([], MAX2).tolist() == []


def test_hypervolume_two_objectives_hand_computed():
    # Reference (0, 0), maximising: boxes 0.9x0.1, 0.5x0.5, 0.1x0.9 overlap.
    # Union area by strips of y: [0,0.1]:0.9, [0.1,0.5]:0.5*0.4, [0.5,0.9]:0.1*0.4 -> 0.09+0.2+0.04.
    pts = [[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]]
    assert hypervolume(pts, [0.0, 0.0], MAX2) == pytest.approx(0.33)
    # A dominated point and a duplicate change nothing.
    assert hypervolume([*pts, [0.4, 0.4], [0.5, 0.5]], [0.0, 0.0], MAX2) == pytest.approx(0.33)


def test_hypervolume_against_the_baseline():
    base = [0.60, 0.51]
    # One point better on both: a rectangle 0.06 x 0.04.
    assert hypervolume([[0.66, 0.55]], base, MAX2) == pytest.approx(0.06 * 0.04)
    # Worse than the baseline on one objective: contributes nothing.
    assert hypervolume([[0.21, 0.58]], base, MAX2) == 0.0
    # The baseline itself has no volume against itself.
    assert hypervolume([base], base, MAX2) == 0.0
    # Two points: 0.06*0.04 + 0.04*0.09 - overlap 0.04*0.04.
    assert hypervolume([[0.66, 0.55], [0.64, 0.60]], base, MAX2) == pytest.approx(0.0024 + 0.0036 - 0.0016)


def test_hypervolume_minimise_and_mixed():
    # Minimising both against reference (4, 4): boxes from (1,3) and (3,1): 3*1 + 1*3 - 1*1.
    assert hypervolume([[1, 3], [3, 1]], [4, 4], MIN2) == pytest.approx(5.0)
    # Mixed: maximise x against 0, minimise y against 10: point (2, 4) -> 2 * 6.
    assert hypervolume([[2, 4]], [0, 10], ["maximize", "minimize"]) == pytest.approx(12.0)


def test_hypervolume_3d_and_1d_hand_computed():
    # Two unit-cube corners against the origin: 1*1*1 + 2*0.5*0.5 - overlap 1*0.5*0.5.
    pts = [[1.0, 1.0, 1.0], [2.0, 0.5, 0.5]]
    assert hypervolume(pts, [0, 0, 0], ["maximize"] * 3) == pytest.approx(1.0 + 0.5 - 0.25)
    assert hypervolume([[3.0], [5.0]], [1.0], ["maximize"]) == pytest.approx(4.0)
    assert hypervolume([], [0, 0], MAX2) == 0.0


def _optuna_front(points: np.ndarray, directions: list[str]) -> set[int]:
    import optuna
    from optuna.study import StudyDirection
    from optuna.study._multi_objective import _get_pareto_front_trials_by_trials

    trials = []
    for i, p in enumerate(points):
        t = optuna.trial.create_trial(values=[float(v) for v in p], state=optuna.trial.TrialState.COMPLETE)
        t.number = i
        trials.append(t)
    dirs = [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE for d in directions]
    return {t.number for t in _get_pareto_front_trials_by_trials(trials, dirs)}


@pytest.mark.parametrize("directions", [MAX2, MIN2, ["maximize", "minimize"], ["minimize", "maximize", "maximize"]])
def test_front_matches_optuna_on_random_points(directions):
    rng = np.random.default_rng(len(directions) * 7 + (directions[0] == "maximize"))
    for trial in range(25):
        n = int(rng.integers(1, 40))
        # Rounded values so ties and duplicates occur, as they do with real metrics.
        points = np.round(rng.random((n, len(directions))), 1 if trial % 2 else 3)
        ours = set(np.flatnonzero(pareto_mask(points, directions)).tolist())
        assert ours == _optuna_front(points, directions), points
        assert ours == set(np.flatnonzero(nondominated_ranks(points, directions) == 1).tolist())


def test_ranks_match_optuna_non_dominated_sort():
    from optuna.study._multi_objective import _fast_non_domination_rank

    rng = np.random.default_rng(3)
    for _ in range(20):
        points = np.round(rng.random((int(rng.integers(2, 30)), 2)), 1)
        ours = nondominated_ranks(points, MAX2)
        theirs = _fast_non_domination_rank(to_loss(points, MAX2))
        assert (ours - 1).tolist() == theirs.tolist()


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_matches_optuna(k):
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(k)
    directions = ["maximize" if i % 2 == 0 else "minimize" for i in range(k)]
    for _ in range(10):
        points = rng.random((int(rng.integers(1, 15)), k))
        reference = [0.0 if d == "maximize" else 1.0 for d in directions]
        expected = compute_hypervolume(to_loss(points, directions), to_loss([reference], directions)[0])
        assert hypervolume(points, reference, directions) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_epsilon_from_sigma_with_floor_and_override() -> None:
    seeds = [{"pbqc": 0.60, "dice": 0.50}, {"pbqc": 0.64, "dice": 0.50}, {"pbqc": 0.62, "dice": 0.50}]
    sig = sigmas(seeds, ["pbqc", "dice"])
    assert sig["pbqc"] == pytest.approx(0.02) and sig["dice"] == 0.0
    c = Config.model_validate({"keep": {"min_epsilon": 0.01}, "objectives": [
        {"name": "pbqc"}, {"name": "dice", "epsilon": 0.07}]})
    eps = epsilons(c.objectives, sig, c.keep.min_epsilon)
    assert eps["pbqc"] == pytest.approx(0.04) and eps["dice"] == 0.07
    assert epsilons(c.objectives, {"pbqc": 0.0, "dice": 0.0}, c.keep.min_epsilon)["pbqc"] == 0.01


def test_gains_follow_each_direction_and_skip_what_one_run_lacks() -> None:
    c = Config.model_validate({"objectives": [{"name": "pbqc"}, {"name": "peak_memory_mb", "direction": "minimize"},
                                              {"name": "dice"}]})
    got = gains({"pbqc": 0.70, "peak_memory_mb": 900.0, "dice": 0.5}, {"pbqc": 0.65, "peak_memory_mb": 1000.0}, c.objectives)
    assert got == {"pbqc": pytest.approx(0.05), "peak_memory_mb": pytest.approx(100.0)}
    assert gains({"pbqc": 0.60, "peak_memory_mb": 1100.0}, {"pbqc": 0.65, "peak_memory_mb": 1000.0}, c.objectives) == {
        "pbqc": pytest.approx(-0.05), "peak_memory_mb": pytest.approx(-100.0)}


def test_epsilon_wins_count_only_gains_beyond_the_margin() -> None:
    eps = {"pbqc": 0.02, "dice": 0.01, "peak_memory_mb": 0.0}
    # pbqc wins by 2.5 margins; dice's gain equals its margin (not beyond it); memory's margin is 0.
    wins = epsilon_wins({"pbqc": 0.05, "dice": 0.01, "peak_memory_mb": 3.0}, eps)
    assert wins == {"pbqc": pytest.approx(2.5), "peak_memory_mb": float("inf")}
    # Within one margin of the other run, or worse, everywhere: it epsilon-dominates the candidate.
    assert epsilon_wins({"pbqc": 0.019, "dice": -0.3, "peak_memory_mb": 0.0}, eps) == {}
