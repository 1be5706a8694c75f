"""The numbers the report shows, from realistic ledgers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gg_research.config import load_config
from gg_research.results.analysis import analyse
from gg_research.results.ledger import read_workspace_ledger
from gg_research.results.pareto import hypervolume
from tests.results.night import load, write_workspace
from datetime import UTC


def _analyse(ws: Path, tag: str | None = None):
    return analyse(read_workspace_ledger(ws, tag), load(ws), ws, tag)


def test_night_front_ranks_best_and_hypervolume(tmp_path: Path):
    an = _analyse(write_workspace(tmp_path / "ws"))
    assert an.front == ["e0002", "e0005", "e0008"]
    ranks = {r.exp.id: r.rank for r in an.rows}
    assert ranks["e0001"] == 2  # the baseline, dominated by every keep
    assert ranks["e0003"] == 2 and ranks["e0007"] == 2  # discards: the layer they would sit in
    assert ranks["e0004"] is None and ranks["e0006"] is None and ranks["e0009"] is None
    # The invalid run's perfect numbers are not trusted: not best, not on the front.
    assert an.best == {"pbqc": {"id": "e0008", "value": 0.67}, "dice": {"id": "e0005", "value": 0.60}}
    assert an.reference == {"pbqc": 0.6033, "dice": 0.51} and an.reference_source == "baseline"
    # By horizontal strips above the baseline's Dice: up to 0.53 the widest keep is e0008,
    # then e0002 up to 0.55, then e0005 up to 0.60.
    expected = (0.67 - 0.6033) * 0.02 + (0.66 - 0.6033) * 0.02 + (0.64 - 0.6033) * 0.05
    assert an.hypervolume == pytest.approx(expected)
    assert an.baseline_hypervolume == 0.0 and an.gain == pytest.approx(expected)
    assert an.near_misses == ["e0007"]  # 0.005 short of e0002 on both, well within the noise
    counts = an.counts()
    assert (counts["keep"], counts["discard"], counts["crash"], counts["invalid"], counts["running"]) == (3, 2, 1, 1, 1)
    # First start to the latest time: the in-flight e0009 started 8 x 9 minutes in.
    assert an.hours == pytest.approx(8 * 9 / 60)
    assert an.per_hour == pytest.approx(9 / an.hours)


def test_epsilon_is_twice_the_baseline_seed_sigma(tmp_path: Path):
    an = _analyse(write_workspace(tmp_path / "ws"))
    import statistics

    assert an.epsilon["pbqc"] == pytest.approx(2 * statistics.stdev([0.60, 0.62, 0.59]))
    assert an.epsilon["dice"] == pytest.approx(2 * statistics.stdev([0.50, 0.52, 0.51]))


def test_progress_hypervolume_grows_to_the_final_value(tmp_path: Path):
    an = _analyse(write_workspace(tmp_path / "ws"))
    hv = [p.hypervolume for p in an.progress]
    assert len(hv) == 9 and hv[0] == 0.0
    assert all(b >= a for a, b in zip(hv, hv[1:]))
    assert hv[-1] == pytest.approx(an.hypervolume)
    assert hv[1] == pytest.approx((0.66 - 0.6033) * (0.55 - 0.51))  # after e0002 alone
    assert [p.running_best["dice"] for p in an.progress][:5] == [0.51, 0.55, 0.55, 0.55, 0.60]


def _config(tmp_path: Path, objectives: str) -> Path:
    ws = tmp_path / "ws"
    (ws / "results").mkdir(parents=True)
    (ws / "gg-research.toml").write_text(objectives)
    return ws


def _ledger(ws: Path, records: list[dict]) -> None:
    (ws / "results" / "experiments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_minimised_objective_changes_the_front(tmp_path: Path):
    # A [run] command reports its own figures, so any objective name is allowed.
    ws = _config(tmp_path, '[run]\ncommand = "python score.py"\n\n[[objectives]]\nname = "dice"\n\n'
                           '[[objectives]]\nname = "memory_gb"\ndirection = "minimize"\n')
    _ledger(ws, [
        {"id": "e0001", "status": "baseline", "metrics": {"dice": 0.50, "memory_gb": 4.0}},
        {"id": "e0002", "status": "keep", "metrics": {"dice": 0.60, "memory_gb": 6.0}},
        {"id": "e0003", "status": "keep", "metrics": {"dice": 0.55, "memory_gb": 3.0}},
        {"id": "e0004", "status": "keep", "metrics": {"dice": 0.52, "memory_gb": 5.0}},
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.front == ["e0002", "e0003"]
    # Only e0003 beats the baseline on both: (0.55 - 0.50) x (4.0 - 3.0).
    assert an.hypervolume == pytest.approx(0.05)
    assert an.best == {"dice": {"id": "e0002", "value": 0.60}, "memory_gb": {"id": "e0003", "value": 3.0}}


def test_three_objectives_use_the_general_hypervolume(tmp_path: Path):
    ws = _config(tmp_path, "".join(f'[[objectives]]\nname = "{n}"\n' for n in ("pbqc", "dice", "img_per_sec")))
    pts = {"e0001": (0.5, 0.5, 100.0), "e0002": (0.6, 0.55, 90.0), "e0003": (0.55, 0.6, 120.0), "e0004": (0.5, 0.5, 80.0)}
    _ledger(ws, [{"id": k, "status": "baseline" if k == "e0001" else "keep",
                  "metrics": dict(zip(("pbqc", "dice", "img_per_sec"), v))} for k, v in pts.items()])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.front == ["e0002", "e0003"]  # e0001 is dominated by e0003 on all three
    assert an.hypervolume == pytest.approx(0.05 * 0.1 * 20.0)
    assert an.hypervolume == pytest.approx(hypervolume(list(pts.values()), pts["e0001"], ["maximize"] * 3))


def test_configured_reference_measures_gain_over_the_baseline(tmp_path: Path):
    ws = _config(tmp_path, '[[objectives]]\nname = "pbqc"\nreference = 0.0\n\n[[objectives]]\nname = "dice"\nreference = 0.0\n')
    _ledger(ws, [
        {"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.5, "dice": 0.4}},
        {"id": "e0002", "status": "keep", "metrics": {"pbqc": 0.6, "dice": 0.5}},
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.reference_source == "config"
    assert an.hypervolume == pytest.approx(0.30) and an.baseline_hypervolume == pytest.approx(0.20)
    assert an.gain == pytest.approx(0.10)


def test_no_baseline_uses_the_worst_measured_point_and_says_so(tmp_path: Path):
    ws = _config(tmp_path, "")
    _ledger(ws, [
        {"id": "e0001", "status": "keep", "metrics": {"pbqc": 0.5, "dice": 0.7}},
        {"id": "e0002", "status": "keep", "metrics": {"pbqc": 0.7, "dice": 0.5}},
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.reference == {"pbqc": 0.5, "dice": 0.5} and an.reference_source == "worst measured"
    assert any("no baseline" in n for n in an.notes)
    assert an.hypervolume == 0.0  # every kept run ties the worst point on one objective


def test_keep_without_metrics_is_left_off_with_a_warning(tmp_path: Path):
    ws = _config(tmp_path, "")
    _ledger(ws, [
        {"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.5, "dice": 0.5}},
        {"id": "e0002", "status": "keep", "metrics": {"pbqc": 0.9}},
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.front == ["e0001"]
    assert an.ledger.warnings == ["e0002: status keep but no value for dice; left off the front"]


def test_epsilon_recorded_by_the_loop_wins_over_recomputing(tmp_path: Path):
    recs = [{"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.6, "dice": 0.5}, "epsilon": {"pbqc": 0.04, "dice": 0.03}},
            {"id": "e0002", "status": "keep", "metrics": {"pbqc": 0.7, "dice": 0.6}},
            {"id": "e0003", "status": "discard", "metrics": {"pbqc": 0.67, "dice": 0.58}}]
    ws = _config(tmp_path, "")
    _ledger(ws, recs)
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.epsilon == {"pbqc": 0.04, "dice": 0.03}
    # 0.03 and 0.02 short of e0002: within the recorded margins, so a near miss.
    assert an.near_misses == ["e0003"]
    recs[0]["epsilon"] = {"pbqc": 0.01, "dice": 0.01}
    _ledger(ws, recs)
    assert analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws).near_misses == []


def test_a_run_below_a_floor_is_no_near_miss(tmp_path: Path):
    ws = _config(tmp_path, '[[objectives]]\nname = "pbqc"\nrelative_floor = 0.8\n\n'
                           '[[objectives]]\nname = "dice"\nfloor = 0.3\n')
    _ledger(ws, [
        {"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.60, "dice": 0.50}},
        {"id": "e0002", "status": "discard", "metrics": {"pbqc": 0.62, "dice": 0.20}},  # dice below 0.3
        {"id": "e0003", "status": "discard", "metrics": {"pbqc": 0.45, "dice": 0.70}},  # pbqc below 0.8 x 0.60
        {"id": "e0004", "status": "discard", "metrics": {"pbqc": 0.61, "dice": 0.49}},  # trades, floors hold
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    # All three are undominated by the baseline; only the one that respects both floors is near.
    assert {r.exp.id: r.rank for r in an.rows} == {"e0001": 1, "e0002": 1, "e0003": 1, "e0004": 1}
    assert an.near_misses == ["e0004"]


def _seed(seed: int, dice: float, **extra) -> dict:
    return {"seed": seed, "status": "ok", "metrics": {"pbqc": 0.91, "dice": dice}, "run_dir": f"results/runs/s{seed}",
            **extra}


def test_collapsed_runs_and_the_baselines_own_collapsed_seeds_are_shown(tmp_path: Path):
    from datetime import datetime

    from gg_research.results.html import render_html
    from gg_research.results.markdown import render_markdown
    from gg_research.results.report import report_json

    ws = _config(tmp_path, '[[objectives]]\nname = "pbqc"\nrelative_floor = 0.8\nlabel = "PBQC"\n\n'
                           '[[objectives]]\nname = "dice"\nrelative_floor = 0.8\nlabel = "Dice"\n')
    _ledger(ws, [
        # An older night: its seeds carry no collapse mark, so the floors are checked here.
        {"id": "e0001", "tag": "old", "status": "baseline", "seeds": [_seed(0, 0.45), _seed(1, 0.004), _seed(2, 0.40)]},
        {"id": "e0002", "tag": "old", "status": "discard", "log": "results/runs/e0002/run.log", "collapse": True,
         "seeds": [_seed(0, 0.01)]},
        # A night the loop marked seed by seed: the re-run of a keep collapsed, its mean did not.
        {"id": "e0003", "tag": "new", "status": "baseline", "seeds": [_seed(0, 0.42, collapse=[]), _seed(1, 0.44, collapse=[])]},
        {"id": "e0004", "tag": "new", "status": "keep", "seeds": [_seed(0, 0.60, collapse=[]), _seed(3, 0.30, collapse=["dice"])]},
        {"id": "e0005", "tag": "new", "status": "discard", "seeds": [_seed(0, 0.41, collapse=[])]},
    ])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.baseline_seed_count == 5 and an.baseline_collapses == [("e0001", 1, ["dice"])]
    assert {r.exp.id: r.collapsed for r in an.rows} == {"e0001": ["dice"], "e0002": ["dice"], "e0003": [],
                                                        "e0004": ["dice"], "e0005": []}
    now = datetime.now(UTC)
    md = render_markdown(an, {}, now)
    assert "| baseline seeds collapsed | **1 of 5** (e0001 seed 1 (collapsed: Dice): the target is bistable" in md
    assert 'look better; [keep] test = "paired-all" pairs each change with every baseline seed instead' in md
    # A night already judged by pairing every seed is not told to.
    (ws / "gg-research.toml").write_text((ws / "gg-research.toml").read_text() + '\n[keep]\ntest = "paired-all"\n')
    paired_all = render_markdown(analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws), {}, now)
    assert "the target is bistable at this budget, and a collapsed seed makes any change look better)" in paired_all
    assert "paired-all\" pairs" not in paired_all
    assert "| discard · collapsed: Dice (log `results/runs/e0002/run.log`) |" in md
    html = render_html(an, {}, now)
    assert '<div class="collapsed" title="loss curve in results/runs/e0002/run.log">collapsed: Dice</div>' in html
    data = json.loads(report_json(an))
    assert data["collapsed"] == {"e0001": ["dice"], "e0002": ["dice"], "e0004": ["dice"]}
    assert data["baseline_seed_collapses"] == {"seeds": 5, "collapsed": [{"baseline": "e0001", "seed": 1,
                                                                        "objectives": ["dice"]}]}


def test_one_seed_baselines_with_no_floor_broken_say_nothing_of_collapse(tmp_path: Path):
    from gg_research.results.cards import headline_facts

    ws = _config(tmp_path, "")
    _ledger(ws, [{"id": "e0001", "status": "baseline", "seeds": [_seed(0, 0.45)]},
                 {"id": "e0002", "status": "keep", "seeds": [_seed(0, 0.5)]}])
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.baseline_seed_count == 1 and not an.baseline_collapses
    assert not any(label == "baseline seeds collapsed" for label, _, _ in headline_facts(an))


PAIR = ('[[objectives]]\nname = "pbqc"\nrelative_floor = 0.8\n\n'
        '[[objectives]]\nname = "dice"\nfloor = 0.45\nrelative_floor = 0.8\n')
TRADE_OFF = [
    {"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.5, "dice": 0.5}},
    {"id": "e0002", "status": "keep", "metrics": {"pbqc": 0.6, "dice": 0.48}},  # a trade: PBQC up, Dice a little down
]


def test_a_kept_trade_off_counts_against_the_collapse_floors_and_the_headline_says_so(tmp_path: Path):
    ws = _config(tmp_path, PAIR)
    _ledger(ws, TRADE_OFF)
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    # PBQC's floor is 0.8 x 0.5; Dice's the stricter of its absolute 0.45 and 0.8 x 0.5.
    assert an.reference == pytest.approx({"pbqc": 0.4, "dice": 0.45}) and an.reference_source == "collapse floors"
    base, front = 0.1 * 0.05, 0.1 * 0.05 + 0.1 * 0.03  # the baseline's box, and the trade's strip beyond it
    assert an.baseline_hypervolume == pytest.approx(base) and an.hypervolume == pytest.approx(front)
    assert an.gain_percent == pytest.approx(60.0)
    value, detail = an.hypervolume_fact()
    assert value == "+60.0 %"
    assert detail == "front 0.008000 against the baseline's 0.005000, measured from pbqc 0.4000, dice 0.4500 (collapse floors)"
    data = an.to_json()
    assert data["hypervolume_gain_percent"] == pytest.approx(60.0) and "collapse floors" in data["reference_text"]


def test_the_baseline_reference_is_still_there_and_a_trade_off_then_adds_nothing(tmp_path: Path):
    ws = _config(tmp_path, PAIR + '\n[report]\nhypervolume_reference = "baseline"\n')
    _ledger(ws, TRADE_OFF)
    an = analyse(read_workspace_ledger(ws), load_config(ws / "gg-research.toml"), ws)
    assert an.reference == {"pbqc": 0.5, "dice": 0.5} and an.reference_source == "baseline"
    assert an.hypervolume == 0.0 and an.gain == 0.0 and an.gain_percent is None
    assert an.hypervolume_fact()[0] == "+0"
