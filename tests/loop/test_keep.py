"""The keep rule on known points, for each mode."""

from __future__ import annotations

import pytest

from gg_research.config import Config
from gg_research.loop.keep import decide, next_unused_seed

BASE = {"pbqc": 0.60, "dice": 0.50}
EPS = {"pbqc": 0.02, "dice": 0.02}


def cfg(rule: str = "pareto", **keep) -> Config:
    return Config.model_validate({
        "keep": {"rule": rule, "primary": "dice", **keep},
        "objectives": [
            {"name": "pbqc", "direction": "maximize", "relative_floor": 0.8, "weight": 1.0},
            {"name": "dice", "direction": "maximize", "floor": 0.3, "weight": 1.0},
        ],
    })


@pytest.mark.parametrize("cand,status", [
    ({"pbqc": 0.55, "dice": 0.45}, "discard"),  # dominated
    ({"pbqc": 0.61, "dice": 0.51}, "discard"),  # better on both, but within noise
    ({"pbqc": 0.70, "dice": 0.45}, "keep"),  # non-dominated trade-off, clear win on pbqc
    ({"pbqc": 0.63, "dice": 0.50}, "rerun"),  # win by 1.5 eps: marginal
    ({"pbqc": 0.45, "dice": 0.90}, "discard"),  # pbqc below 0.8 x baseline: collapse
    ({"pbqc": 0.90, "dice": 0.25}, "discard"),  # dice below its absolute floor
])
def test_pareto_points(cand: dict, status: str) -> None:
    d = decide(cfg(), cand, [BASE], BASE, EPS)
    assert d.status == status, d.reason


def test_pareto_must_beat_every_kept_run() -> None:
    kept = [BASE, {"pbqc": 0.75, "dice": 0.40}]
    # beats BASE on pbqc but is within eps of the second kept run on both objectives
    assert decide(cfg(), {"pbqc": 0.74, "dice": 0.41}, kept, BASE, EPS).status == "discard"
    assert decide(cfg(), {"pbqc": 0.70, "dice": 0.60}, kept, BASE, EPS).status == "keep"


def test_floors_mark_collapse() -> None:
    d = decide(cfg(), {"pbqc": 0.40, "dice": 0.6}, [BASE], BASE, EPS)
    assert d.collapse and "pbqc" in d.reason


def test_no_rerun_when_disallowed_or_disabled() -> None:
    cand = {"pbqc": 0.63, "dice": 0.50}
    assert decide(cfg(), cand, [BASE], BASE, EPS, allow_rerun=False).status == "keep"
    assert decide(cfg(rerun_marginal=False), cand, [BASE], BASE, EPS).status == "keep"


@pytest.mark.parametrize("cand,status", [
    ({"pbqc": 0.70, "dice": 0.55}, "keep"),  # gain 0.15 > 2 eps
    ({"pbqc": 0.62, "dice": 0.51}, "discard"),  # gain 0.03 within eps 0.04
    ({"pbqc": 0.65, "dice": 0.50}, "rerun"),  # gain 0.05 in (eps, 2 eps)
    ({"pbqc": 0.40, "dice": 0.99}, "discard"),  # big sum but pbqc collapsed
])
def test_scalar_points(cand: dict, status: str) -> None:
    d = decide(cfg("scalar"), cand, [BASE], BASE, EPS)
    assert d.status == status, d.reason


@pytest.mark.parametrize("cand,status", [
    ({"pbqc": 0.50, "dice": 0.60}, "keep"),  # dice up, pbqc above its floor (0.48)
    ({"pbqc": 0.47, "dice": 0.70}, "discard"),  # pbqc breaks its threshold
    ({"pbqc": 0.90, "dice": 0.51}, "discard"),  # primary within noise
    ({"pbqc": 0.60, "dice": 0.53}, "rerun"),  # marginal primary win
])
def test_threshold_points(cand: dict, status: str) -> None:
    d = decide(cfg("threshold"), cand, [BASE], BASE, EPS)
    assert d.status == status, d.reason


def test_minimised_objective_is_normalised() -> None:
    c = Config.model_validate({"run": {"command": "python score.py"}, "objectives": [
        {"name": "loss", "direction": "minimize", "relative_floor": 0.5},
        {"name": "dice", "direction": "maximize"},
    ]})
    base = {"loss": 1.0, "dice": 0.5}
    eps = {"loss": 0.05, "dice": 0.02}
    assert decide(c, {"loss": 0.8, "dice": 0.5}, [base], base, eps).status == "keep"
    assert decide(c, {"loss": 1.2, "dice": 0.5}, [base], base, eps).status == "discard"
    d = decide(c, {"loss": 2.5, "dice": 0.9}, [base], base, eps)  # loss more than doubled: collapse
    assert d.status == "discard" and d.collapse


def test_secondary_bounds() -> None:
    c = cfg(max_slowdown=1.5, max_memory_growth=2.0)
    win = {"pbqc": 0.80, "dice": 0.50}
    base_aux = {"img_per_sec": 100.0, "peak_memory_mb": 1000.0}
    assert decide(c, win, [BASE], BASE, EPS, aux={"img_per_sec": 80, "peak_memory_mb": 1500}, baseline_aux=base_aux).status == "keep"
    slow = decide(c, win, [BASE], BASE, EPS, aux={"img_per_sec": 50, "peak_memory_mb": 1000}, baseline_aux=base_aux)
    assert slow.status == "discard" and "slower" in slow.reason
    fat = decide(c, win, [BASE], BASE, EPS, aux={"img_per_sec": 100, "peak_memory_mb": 2500}, baseline_aux=base_aux)
    assert fat.status == "discard" and "memory" in fat.reason


def test_non_finite_is_discarded() -> None:
    assert decide(cfg(), {"pbqc": float("nan"), "dice": 0.9}, [BASE], BASE, EPS).status == "discard"


def test_rerun_seed_is_one_neither_the_baseline_nor_the_candidate_used() -> None:
    baseline = {0 + i for i in range(3)}  # seeds 0, 1, 2
    candidate = [0]  # paired with the baseline's first seed
    for _ in range(3):
        seed = next_unused_seed(0, 3, len(candidate))
        assert seed not in baseline and seed not in candidate
        candidate.append(seed)


def test_a_marginal_win_names_only_the_objective_it_won_on() -> None:
    d = decide(cfg(), {"pbqc": 0.63, "dice": 0.50}, [BASE], BASE, EPS)
    assert d.status == "rerun"
    assert "on pbqc:" in d.reason and "dice" not in d.reason


def _counts(dice: float, n: int = 32, spread: float = 4.0):
    """Per-image TP/FP/FN whose micro-averaged Dice is about `dice`, scattered over the images."""
    import numpy as np

    tp = np.maximum(60 * dice + spread * np.sin(np.arange(n) * 1.7), 0)
    return np.stack([tp, np.full(n, 30 * (1 - dice)), np.full(n, 30 * (1 - dice))], axis=1)


def test_paired_verdict_needs_a_win_over_every_seed_of_the_parent() -> None:
    from gg_research.loop.keep import paired_verdict
    from gg_research.results.paired import paired_interval

    c = cfg()
    candidate, typical, collapsed = _counts(0.45), _counts(0.46), _counts(0.01)
    pbqc = _counts(0.9)

    def found(ref) -> dict:
        return {"dice": paired_interval(candidate, ref, "dice"), "pbqc": paired_interval(pbqc, pbqc, "pbqc")}

    # Against the collapsed seed alone, an unchanged train.py is "surely better" on the images.
    assert paired_verdict(c.objectives, [found(collapsed)]) == (["dice"], [])
    # Against both seeds it is not: it must beat each draw of its parent.
    assert paired_verdict(c.objectives, [found(collapsed), found(typical)])[0] == []
    # Surely worse than any one seed is a loss.
    worse = paired_verdict(c.objectives, [found(collapsed), {"dice": paired_interval(_counts(0.2), typical, "dice")}])
    assert worse == ([], ["dice"])


def test_paired_verdict_reads_a_minimised_objective_the_other_way() -> None:
    from gg_research.loop.keep import paired_verdict
    from gg_research.results.paired import paired_interval

    c = Config.model_validate({"run": {"command": "python score.py"}, "objectives": [{"name": "err", "direction": "minimize"}]})
    lower = {"err": paired_interval(_counts(0.2), _counts(0.6), "err")}
    higher = {"err": paired_interval(_counts(0.6), _counts(0.2), "err")}
    assert paired_verdict(c.objectives, [lower]) == (["err"], [])  # a smaller value is the better one
    assert paired_verdict(c.objectives, [higher]) == ([], ["err"])


def test_paired_all_narrows_the_margin_only_when_there_is_something_to_pair() -> None:
    from gg_research.loop.keep import margins

    sigma = {"pbqc": 0.002, "dice": 0.2}  # one collapsed seed of two widens Dice's spread
    assert margins(cfg(test="margin"), sigma) == {"pbqc": 0.005, "dice": 0.4}
    # Each baseline seed is paired one by one instead, so the margin is min_epsilon...
    assert margins(cfg(test="paired-all"), sigma) == {"pbqc": 0.005, "dice": 0.005}
    # ...unless the runs left no per-image counts: then nothing is paired and 2 sigma stays.
    assert margins(cfg(test="paired-all"), sigma, pairable=False) == {"pbqc": 0.005, "dice": 0.4}
