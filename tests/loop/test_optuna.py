"""The offline proposer: the search-space grammar, valid edits, and a study that resumes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gg_research.loop.apply import check_edits
from gg_research.loop.errors import ProposerError
from gg_research.loop.search_space import parse_file, parse_space
from tests.loop.fakes import make_workspace, records


def test_grammar_finds_declared_constants_and_value_spans() -> None:
    text = (
        'import math\n'
        'LR = 3e-4  # search: log(1e-5, 1e-2)\n'
        'BATCH_SIZE = 16  # search: choice(8, 16, 32)\n'
        'DEPTH = 3  # search: int(1, 6)\n'
        'DROP = 0.1  # search: float(0.0, 0.5)\n'
        'ACT = "relu"  # search: choice("relu", "gelu")\n'
        'lower = 1  # search: int(0, 2)\n'
        'PLAIN = 5  # just a comment\n'
        'def f():\n    INNER = 1  # search: int(0, 3)\n'
    )
    params = {p.name: p for p in parse_file("train.py", text)}
    assert set(params) == {"LR", "BATCH_SIZE", "DEPTH", "DROP", "ACT"}
    assert params["LR"].kind == "log" and params["LR"].args == (1e-5, 1e-2) and params["LR"].value == 3e-4
    assert params["ACT"].args == ("relu", "gelu")
    new = params["BATCH_SIZE"].replaced_line(32)
    assert new == "BATCH_SIZE = 32  # search: choice(8, 16, 32)"
    assert params["LR"].replaced_line(1.23456e-3) == "LR = 0.00123  # search: log(1e-5, 1e-2)"
    assert ast.literal_eval(params["ACT"].replaced_line("gelu").split("=")[1].split("#")[0].strip()) == "gelu"


@pytest.mark.parametrize("line,needle", [
    ("LR = 3e-4  # search: log(0, 1)\n", "lo > 0"),
    ("LR = 3e-4  # search: float(2, 1)\n", "lo < hi"),
    ("LR = 3e-4  # search: choice(1)\n", "at least two"),
    ("LR = 3e-4  # search: int(a, b)\n", "not Python literals"),
])
def test_malformed_annotations_name_the_line(line: str, needle: str) -> None:
    with pytest.raises(ProposerError, match=needle) as err:
        parse_file("train.py", "x = 1\n" + line)
    assert "train.py:2" in str(err.value)


def test_same_name_in_two_files_gets_path_keys() -> None:
    space = parse_space({"a.py": "LR = 1.0  # search: float(0, 2)\n", "b.py": "LR = 1.0  # search: float(0, 2)\n"})
    assert sorted(p.key for p in space) == ["a.py:LR", "b.py:LR"]


def _optuna(ws: Path):
    from gg_research.config import load_config
    from gg_research.loop.proposers.optuna_proposer import OptunaProposer

    return OptunaProposer(ws, load_config(ws / "gg-research.toml"), "o")


def test_no_search_space_is_a_clear_error(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    (ws / "train.py").write_text("QA = 1.0\n")
    with pytest.raises(ProposerError, match="no '# search:' annotations"):
        _optuna(ws)


@pytest.mark.slow
def test_optuna_edits_are_valid_and_the_study_resumes(tmp_path: Path) -> None:
    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI
    import io
    from rich.console import Console

    ws = make_workspace(tmp_path / "ws")
    cfg = load_config(ws / "gg-research.toml")

    def loop(n: int) -> LoopEngine:
        ui = LoopUI(Console(file=io.StringIO()))
        eng = LoopEngine(ws, cfg, Options(tag="o", max_experiments=n, write_report=False),
                         proposer_factory("optuna", say=ui.say), ui=ui)
        assert eng.run() == 0
        return eng

    loop(3)
    recs = records(ws)
    assert recs[0].status == "baseline" and len(recs) == 4
    declared = {p.name for p in parse_space({"train.py": (ws / "train.py").read_text()})}
    for r in recs[1:]:
        assert r.proposer == "optuna" and r.status in ("keep", "discard")
        edits = r.hypothesis["edits"]
        assert 1 <= len(edits) <= 2
        for e in edits:
            name = e["search"].split("=")[0].strip()
            assert name in declared and e["replace"].startswith(name + " = ")
            assert e["replace"].endswith(e["search"][e["search"].index("  #"):])  # the annotation stays
        assert " -> " in r.title and "'" not in r.title.replace("'relu'", "").replace("'gelu'", "")
    import optuna

    study = optuna.load_study(study_name="gg-o", storage=f"sqlite:///{ws / '.gg' / 'optuna-o.db'}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 4  # the baseline and three experiments
    assert done[0].user_attrs["experiment"] == "e0001"
    assert done[0].values == pytest.approx([recs[0].metrics["pbqc"], recs[0].metrics["dice"]])

    loop(2)  # a restart: same study, two more trials, no second baseline
    study = optuna.load_study(study_name="gg-o", storage=f"sqlite:///{ws / '.gg' / 'optuna-o.db'}")
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 6
    assert [r.id for r in records(ws)] == [f"e000{i}" for i in range(1, 7)]
    assert sum(r.status == "baseline" for r in records(ws)) == 1
    titles = [r.title for r in records(ws)[1:]]
    assert len(set(titles)) == len(titles)


def test_optuna_fails_a_trial_left_running_by_a_killed_loop(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    p = _optuna(ws)
    from gg_research.config import load_config
    from gg_research.loop.state import LoopState
    from gg_research.loop.apply import mutable_contents

    state = LoopState(ws, "o", load_config(ws / "gg-research.toml"), "", mutable_contents(ws, ["train.py"]), [])
    hyp = p.propose(state, None)
    check_edits(ws, hyp, ["train.py"])  # applies cleanly
    del p
    p2 = _optuna(ws)
    assert [t.state.name for t in p2.study.trials] == ["FAIL"]


def test_another_tag_does_not_replay_the_same_draws(tmp_path: Path) -> None:
    from gg_research.config import load_config
    from gg_research.loop.apply import mutable_contents
    from gg_research.loop.proposers.optuna_proposer import OptunaProposer
    from gg_research.loop.state import LoopState

    ws = make_workspace(tmp_path / "ws")
    cfg = load_config(ws / "gg-research.toml")
    state = LoopState(ws, "x", cfg, "", mutable_contents(ws, ["train.py"]), [])
    firsts = {tag: [OptunaProposer(ws, cfg, tag).propose(state, None).title for _ in range(3)] for tag in ("a", "b")}
    assert firsts["a"] != firsts["b"]


def test_the_random_sampler_is_the_yardstick_proposer(tmp_path: Path) -> None:
    import optuna

    from gg_research.config import load_config
    from gg_research.loop.apply import mutable_contents
    from gg_research.loop.proposers.optuna_proposer import OptunaProposer
    from gg_research.loop.state import LoopState

    ws = make_workspace(tmp_path / "ws")
    cfg = load_config(ws / "gg-research.toml")
    cfg.proposer.sampler = "random"
    proposer = OptunaProposer(ws, cfg, "r")
    assert isinstance(proposer.study.sampler, optuna.samplers.RandomSampler)
    hyp = proposer.propose(LoopState(ws, "r", cfg, "", mutable_contents(ws, ["train.py"]), []), None)
    assert hyp.rationale.startswith("Optuna random search trial 0") and hyp.edits


def test_a_budget_bound_discard_does_not_teach_the_sampler_its_knobs_are_bad(tmp_path: Path) -> None:
    """A discard whose loss was still falling at the end (and falling faster than its parent's) is cut
    short, not beaten: left out of the model; one that had flattened is a complete, scored trial."""
    import math

    from optuna.trial import TrialState

    from gg_research.loop.state import LoopState
    from gg_research.results.ledger import Experiment, SeedRun, Status
    from tests.results.test_curves import write_curve

    ws = make_workspace(tmp_path / "ws")
    p = _optuna(ws)
    runs = ws / "results" / "runs"
    write_curve(runs / "e0001", [0.5 + 0.5 * math.exp(-i / 10) for i in range(100)])  # flattened early
    write_curve(runs / "e0002", [math.exp(-i / 100) for i in range(100)])  # still falling at the end
    write_curve(runs / "e0003", [0.4 + 0.6 * math.exp(-i / 10) for i in range(100)])  # flattened too

    def record(exp_id: str, status: Status, trial: int | None = None) -> Experiment:
        return Experiment(exp_id, status=status, parent=None if exp_id == "e0001" else "e0001",
                          metrics={"pbqc": 0.55, "dice": 0.45}, proposer_info={} if trial is None else {"trial": trial},
                          seeds=[SeedRun(0, "ok", {"pbqc": 0.55, "dice": 0.45}, run_dir=f"results/runs/{exp_id}")])

    p.tell_baseline(record("e0001", Status.BASELINE))
    from gg_research.config import load_config

    state = LoopState(ws, "o", load_config(ws / "gg-research.toml"), "", {"train.py": (ws / "train.py").read_text()}, [])
    first, second = (p.propose(state, None).meta.trial for _ in range(2))
    p.tell(record("e0002", Status.DISCARD, first))
    p.tell(record("e0003", Status.DISCARD, second))
    states = {t.number: t.state for t in p.study.get_trials(deepcopy=False)}
    assert states[first] == TrialState.FAIL and states[second] == TrialState.COMPLETE
