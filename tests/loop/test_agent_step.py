"""An agent's step in-process on the fake workspace: the edit as a hypothesis, refusals, resume."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from gg_research.config import load_config
from gg_research.loop.agent import AgentStep, StepRequest, edit_between
from gg_research.loop.errors import EditRefused, LoopLocked
from gg_research.loop.lock import LoopLock
from gg_research.loop.ui import LoopUI
from gg_research.results.ledger import Experiment, Status
from tests.loop.fakes import git, make_workspace, records


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _step(ws: Path, title: str = "edit") -> tuple[dict, str]:
    buf = io.StringIO()
    step = AgentStep(ws, load_config(ws / "gg-research.toml"), ui=LoopUI(Console(file=buf, width=200)),
                     write_report=False)
    out = step.run(StepRequest(title=title, rationale="because", citations=["d1:3"]))
    return out.to_json(["pbqc", "dice"]), buf.getvalue()


def _edit(ws: Path, old: str, new: str, name: str = "train.py") -> None:
    p = ws / name
    p.write_text(p.read_text().replace(old, new))


@pytest.mark.parametrize("old,new", [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("x = 1\nx = 1\ny = 2\n", "x = 1\nx = 1\nx = 1\ny = 2\n"),  # an insertion between equal lines needs context
    ("a\nb\n", "a\nb\nc\n"),
    ("a\nb\nc\n", "b\n"),
    ("same\n" * 5, "same\n" * 3),
])
def test_edit_between_reproduces_the_new_file(old: str, new: str) -> None:
    e = edit_between("f.py", old, new)
    assert e is not None and old.count(e.search) == 1
    assert old.replace(e.search, e.replace, 1) == new


def test_first_step_measures_the_baseline_then_keeps_the_edit(ws: Path) -> None:
    _edit(ws, "QA = 1.0", "QA = 2.0")
    res, out = _step(ws, "QA up")
    base, exp = records(ws)
    assert base.status is Status.BASELINE and len(base.seeds) == 2
    assert res["status"] == "keep" and res["baseline"]["experiment"] == base.id
    assert exp.proposer == "agent" and exp.parent == base.id
    assert exp.hypothesis["citations"] == [{"chunk_id": "d1:3"}] and exp.hypothesis["rationale"] == "because"
    assert git(ws, "rev-parse", "HEAD").strip() == exp.commit
    assert git(ws, "tag", "--list", "gg/agent/*").split() == ["gg/agent/e0001", "gg/agent/e0002"]
    assert "QA = 2.0" in (ws / "train.py").read_text()
    # The next edit is diffed against the kept commit; a worse one is reverted.
    _edit(ws, "QB = 1.0", "QB = 0.5")
    res, _ = _step(ws, "QB down")
    assert res["status"] == "discard" and "reverted" in res["message"]
    assert "QB = 1.0" in (ws / "train.py").read_text() and git(ws, "status", "--porcelain") == ""


@pytest.mark.parametrize("change,needle", [
    (lambda ws: (ws / "program.md").write_text("tampered\n"), "program.md"),
    (lambda ws: (ws / "helper.py").write_text("X = 1\n"), "helper.py"),
    (lambda ws: _edit(ws, "QA = 1.0", "QA = (1.0"), "does not compile"),
    (lambda ws: None, "nothing to run"),
])
def test_refused_edits_leave_the_workspace_as_it_was(ws: Path, change, needle: str) -> None:
    _edit(ws, "QB = 1.0", "QB = 2.0")
    change(ws)
    before = {p.name: p.read_text() for p in ws.iterdir() if p.is_file()}
    status = git(ws, "status", "--porcelain")
    if needle == "nothing to run":
        git(ws, "checkout", "-q", "train.py")
        before, status = {p.name: p.read_text() for p in ws.iterdir() if p.is_file()}, git(ws, "status", "--porcelain")
    with pytest.raises(EditRefused, match=needle):
        _step(ws)
    assert {p.name: p.read_text() for p in ws.iterdir() if p.is_file()} == before
    assert git(ws, "status", "--porcelain") == status
    assert git(ws, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert not (ws / "results" / "experiments.jsonl").exists()


def test_a_step_is_refused_while_a_loop_holds_the_lock(ws: Path) -> None:
    _edit(ws, "QA = 1.0", "QA = 2.0")
    with LoopLock(ws):
        with pytest.raises(LoopLocked, match="another loop"):
            _step(ws)
    assert "QA = 2.0" in (ws / "train.py").read_text() and not (ws / "results").exists()


def test_a_repeated_edit_is_refused(ws: Path) -> None:
    _edit(ws, "QB = 1.0", "QB = 0.5")
    assert _step(ws)[0]["status"] == "discard"
    _edit(ws, "QB = 1.0", "QB = 0.5")
    with pytest.raises(EditRefused, match="repeated diff"):
        _step(ws, "again")


def test_a_step_killed_mid_run_is_recorded_as_interrupted_on_the_next_one(ws: Path) -> None:
    from gg_research.results.ledger import LedgerFile

    _edit(ws, "QA = 1.0", "QA = 2.0")
    _step(ws)
    # What a kill -9 during the run leaves: a start line without an end, its commit checked out.
    _edit(ws, "QB = 1.0", "QB = 1.5")
    git(ws, "commit", "-qam", "killed experiment")
    LedgerFile(ws).start(Experiment(id="e0003", tag="agent", parent="e0002", commit=git(ws, "rev-parse", "HEAD").strip(),
                                    title="killed experiment", proposer="agent"))
    with pytest.raises(EditRefused, match="nothing to run"):
        _step(ws)
    recs = records(ws)
    assert recs[-1].id == "e0003" and recs[-1].status is Status.INTERRUPTED and "loop died" in recs[-1].reason
    assert git(ws, "rev-parse", "HEAD").strip() == recs[1].commit and "QB = 1.0" in (ws / "train.py").read_text()


def test_bytecode_beside_the_sources_is_refused_and_named(ws: Path) -> None:
    import py_compile

    # What an agent that compiled an oracle leaves: bytecode next to train.py, then a one-line edit.
    py_compile.compile(str(ws / "train.py"), cfile=str(ws / "__pycache__" / "train.cpython-311.pyc"))
    _edit(ws, "QA = 1.0", "QA = 2.0")
    with pytest.raises(EditRefused, match=r"bytecode in the workspace \(__pycache__/train.cpython-311.pyc\)"):
        _step(ws)
    assert "QA = 2.0" in (ws / "train.py").read_text() and not (ws / "results").exists()
    (ws / "__pycache__" / "train.cpython-311.pyc").unlink()
    assert _step(ws)[0]["status"] == "keep"


def test_the_judging_code_is_fingerprinted_and_a_changed_module_is_named(ws: Path) -> None:
    from gg_research.loop import integrity

    _edit(ws, "QA = 1.0", "QA = 2.0")
    _step(ws)
    base = records(ws)[0]
    files = base.frozen[integrity.JUDGE_FILES].split()
    assert {"loop/keep.py", "loop/trial.py", "results/ledger.py", "config/model.py", "gg_research/workspace_map.py",
            "harness/runner.py", "ggnet/metrics.py"} <= {f.rsplit(":", 1)[0] for f in files}
    now = integrity.frozen_fingerprint(ws, load_config(ws / "gg-research.toml"))
    assert integrity.fingerprint_problem(base.frozen, now) is None
    # The same fingerprint with the keep rule's file changed (what a copy with its own keep rule would give).
    other = " ".join("loop/keep.py:000000000000" if f.startswith("loop/keep.py:") else f for f in files)
    changed = {**now, integrity.JUDGE_FILES: other}
    problem = integrity.fingerprint_problem(base.frozen, changed)
    assert problem is not None and "gg-research's own code changed since the baseline (loop/keep.py)" in problem


def test_a_new_loop_after_an_agents_step_starts_from_the_baseline_unless_told_from(ws: Path) -> None:
    from gg_research.loop.errors import LoopSetupError
    from tests.loop.fakes import edit, run_scripted

    _edit(ws, "QA = 1.0", "QA = 2.0")
    _step(ws, "QA up")
    agent_base, agent_keep = records(ws)
    assert git(ws, "branch", "--show-current").strip() == "autoresearch/agent"  # the step leaves its branch out
    _, code, out = run_scripted(ws, [edit("QB up", "QB = 1.0", "QB = 2.0")], tag="nov22", baseline_seeds=1)
    nov22 = [e for e in records(ws) if e.tag == "nov22"]
    assert code == 0 and "starting from its baseline's commit" in out and "--from agent" in out
    assert nov22[0].commit == agent_base.commit and "QA = 1.0" in git(ws, "show", f"{nov22[0].commit}:train.py")
    # --from: on purpose, from the agent's front.
    _, code, out = run_scripted(ws, [edit("QB down", "QB = 1.0", "QB = 0.9")], tag="nov23", baseline_seeds=1,
                                from_tag="agent")
    nov23 = [e for e in records(ws) if e.tag == "nov23"]
    assert code == 0 and "from the front of tag agent" in out and nov23[0].commit == agent_keep.commit
    with pytest.raises(LoopSetupError, match="--from starts a new tag"):
        run_scripted(ws, [], tag="nov23", from_tag="agent")
    with pytest.raises(LoopSetupError, match="--from ghost: no kept run of that tag"):
        run_scripted(ws, [], tag="nov24", from_tag="ghost")


@pytest.mark.parametrize("spread,status,why", [
    (3.0, "discard", "where the baseline is too weak to judge"),  # per-image counts that scatter: not sure
    (0.0, "keep", "surely better per image where the baseline is weak"),  # every image better: sure
])
def test_a_baseline_that_learned_nothing_is_flagged_and_a_win_on_it_needs_per_image_evidence(
        ws: Path, spread: float, status: str, why: str) -> None:
    from gg_research.loop.agent_state import loop_state

    # A target that learns no Dice within its budget: 0 on every baseline seed, a speck of it after the edit.
    _edit(ws, "dice = 0.4 + 0.1 * QB - noise if seed != COLLAPSE_SEED else 0.05", "dice = 0.0 if QB == 1.0 else 0.012 + noise")
    _edit(ws, "SPREAD = 0.0", f"SPREAD = {spread}")
    git(ws, "commit", "-qam", "a target that learns nothing in its budget")
    _edit(ws, "QB = 1.0", "QB = 1.1")
    res, out = _step(ws, "QB a bit up")
    assert "warning: the baseline is too weak to judge on dice (dice: the same on every seed (0.0000)" in out
    assert "remedy: a longer budget" in out
    base, exp = records(ws)
    assert exp.metrics["dice"] > base.metrics["dice"] + base.epsilon["dice"]  # a win by the margin alone
    assert res["status"] == status and why in res["reason"], res["reason"]
    assert "too weak to judge on dice" in res["warnings"][0]  # in the result an agent reads, too
    st = loop_state(ws, load_config(ws / "gg-research.toml"), "agent")
    assert any("too weak to judge on dice" in w for w in st["warnings"])
