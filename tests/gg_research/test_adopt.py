"""`gg-research adopt`: an autoresearch-style repo becomes a workspace in place, its code, commits
and branches untouched, its results.tsv the loop's memory (real git repos in temp folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gg_research.adopt import apply_adoption, goals, history_direction, plan_adoption, summary_keys
from gg_research.cli import main
from gg_research.config import load_config
from gg_research.harness.errors import WorkspaceError
from gg_research.results.history import parse_results_tsv
from gg_research.results.ledger import LedgerFile, Status, read_ledger
from tests.gg_research.adopt_fixtures import (TRAIN, autoresearch_repo, git, thesis_repo, trader_repo,
                                              uppercase_repo)


def _snapshot(repo: Path) -> dict:
    """Everything adopt must leave alone: every ref, HEAD's branch, the files' bytes (outside .git)."""
    files = {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    return {"refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"), "head": git(repo, "symbolic-ref", "HEAD"),
            "files": files}


def test_what_adopt_infers_on_the_autoresearch_shape(tmp_path: Path) -> None:
    repo, c = autoresearch_repo(tmp_path)
    plan = plan_adoption(repo)
    assert plan.mutable == ["train.py"] and plan.frozen == ["prepare.py"]
    assert plan.command == "uv run train.py" and "redirection dropped" in plan.command_from
    assert [(o.name, o.direction) for o in plan.objectives] == [("val_bpb", "minimize")]
    assert plan.objectives[0].how == "the kept history in results.tsv and program.md's goal"
    assert plan.budget_s == 300 and plan.brief == "program.md"
    assert plan.summary_keys[:3] == ["val_bpb", "training_seconds", "total_seconds"]
    assert "memory_gb" in plan.secondary and "peak_vram_mb" in plan.secondary
    assert plan.start_commit == c["keep2"]  # the newest kept row, though master is checked out
    assert plan.search_params == 2
    # Its keeps were worth 0.0047 and 0.0031 val_bpb: the default noise floor (0.005) would discard both.
    assert plan.min_epsilon == 0.0015 and "0.0031" in plan.min_epsilon_from
    skipped = "\n".join(plan.history.skipped)
    assert "line 8: 6 cells for 5 columns" in skipped and "line 9: unknown status 'run'" in skipped
    import shutil

    uv_note = "'uv' may want the network" if shutil.which("uv") else "'uv' is not on this PATH"
    assert any(uv_note in w for w in plan.warnings)


@pytest.mark.parametrize("shape, objective, direction, how, command, budget", [
    (trader_repo, "score", "maximize", "the kept history in results.tsv and program.md's goal", "uv run train.py", 120),
    (uppercase_repo, "val_bpb", "minimize", "the kept history in results.tsv and program.md's goal", "python train.py",
     300),
    (thesis_repo, "val_score", "maximize", "the kept history in results.tsv", "python train.py", 300),
])
def test_what_adopt_infers_on_the_forks_shapes(tmp_path: Path, shape, objective, direction, how, command,
                                                budget) -> None:
    repo, c = shape(tmp_path)
    plan = plan_adoption(repo)
    assert [(o.name, o.direction, o.how) for o in plan.objectives] == [(objective, direction, how)]
    assert plan.command == command and plan.budget_s == budget and "prepare.py" in plan.frozen
    assert plan.start_commit in (c["keep1"], c["keep2"]) and not plan.history.skipped
    plan.toml()  # loads as a Config
    assert plan.min_epsilon is None  # their keeps moved by more than twice the default floor


def test_the_forks_tsv_shapes_parse_without_guessing(tmp_path: Path) -> None:
    _, _ = trader_repo(tmp_path)
    h = parse_results_tsv((tmp_path / "trader" / "results.tsv").read_text())
    assert h.figure_columns == ["score", "sharpe", "max_dd", "n_trades", "n_params", "val_pass"]
    base, keep, discard, crash = h.rows
    assert base.status is Status.BASELINE and keep.figures["val_pass"] == 1.0 and discard.figures["val_pass"] == 0.0
    assert crash.status is Status.CRASH and crash.figures == {}  # 0.0000 placeholders are not measurements
    uppercase_repo(tmp_path)
    u = parse_results_tsv((tmp_path / "uppercase" / "results.tsv").read_text())
    assert [r.status for r in u.rows] == [Status.BASELINE, Status.KEEP, Status.DISCARD, Status.CRASH]
    assert u.rows[1].fields == {"strategy": "BREAK", "rationale": "more steps in the budget"}
    assert u.figure_columns == ["val_bpb", "memory_gb", "delta"]
    bad = parse_results_tsv("commit\tval_bpb\tstatus\tdescription\na1\t0.99?\tkeep\tx\na2\t0.98\tkeep\ty\n")
    assert [r.line for r in bad.rows] == [3] and bad.skipped == ["line 2: val_bpb '0.99?' is not a number"]
    bom = parse_results_tsv("\ufeffcommit\tval_bpb\tstatus\tdescription\r\n1234567\t0.9\tkeep\tbaseline\r\n")
    assert bom.figure_columns == ["val_bpb"] and bom.rows[0].commit == "1234567"
    with pytest.raises(ValueError, match="no status column"):
        parse_results_tsv("commit,val_bpb,status,description\n")


def test_direction_from_history_and_brief() -> None:
    h = parse_results_tsv("commit\tm\tstatus\tdescription\na\t1.0\tkeep\tbaseline\nb\t0.9\tkeep\tx\nc\t1.1\tdiscard\ty\n")
    assert history_direction(h, "m") == "minimize"
    mixed = parse_results_tsv("commit\tm\tstatus\tdescription\na\t1.0\tkeep\tbaseline\nb\t0.9\tkeep\tx\nc\t0.95\tkeep\ty\n")
    assert history_direction(mixed, "m") is None
    assert goals("The goal is simple: get the lowest val_bpb.") == {"val_bpb": "minimize"}
    assert goals("**Maximize `dice`** and keep pbqc") == {"dice": "maximize"}
    assert summary_keys(TRAIN) == ["val_bpb", "training_seconds", "total_seconds", "peak_vram_mb", "num_steps", "device"]
    assert summary_keys("print('\\n---')\nprint(f'\\nnab: {x}')") == ["nab"] and summary_keys("print('hi')") == []


def test_an_undecidable_direction_is_asked_or_refused_with_the_flag(tmp_path: Path) -> None:
    repo, _ = thesis_repo(tmp_path)
    (repo / "results.tsv").unlink()
    with pytest.raises(WorkspaceError, match="pbqc: cannot tell.*pass --objective pbqc:max or pbqc:min"):
        plan_adoption(repo)
    asked: list[str] = []
    plan = plan_adoption(repo, ask=lambda q: asked.append(q) or ("" if q.startswith("run command") else "higher"))
    assert plan.objectives[0].direction == "maximize" and plan.objectives[0].how == "asked" and len(asked) == 2
    (repo / "train.py").write_text("for k, v in {'val_bpb': 1}.items():\n    print(f'{k}: {v}')\n")
    git(repo, "commit", "-qam", "summary printed in a loop: no keys to read")
    (repo / "program.md").write_text("Use a lower learning rate. **Minimize `val_bpb`**. Run `python train.py`.\n")
    assert [(o.name, o.direction, o.how) for o in plan_adoption(repo).objectives] == [("val_bpb", "minimize", "program.md")]
    plan = plan_adoption(repo, objectives=["pbqc:max", "dice:max"])
    assert [o.name for o in plan.objectives] == ["pbqc", "dice"]


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = autoresearch_repo(tmp_path)
    before = _snapshot(repo)
    assert main(["adopt", str(repo), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert 'command = "uv run train.py"' in out and "objective    val_bpb: minimize" in out
    assert "not imported: line 9: unknown status 'run'" in out
    assert _snapshot(repo) == before and not (repo / "results").exists()


def test_adopt_keeps_code_commits_and_branches_and_imports_the_history(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    repo, c = autoresearch_repo(tmp_path)
    before = _snapshot(repo)
    assert main(["adopt", str(repo)]) == 0
    after = _snapshot(repo)
    # Every ref that existed points where it pointed; one branch was added, at a commit of its own.
    old_refs = set(before["refs"].splitlines())
    assert old_refs <= set(after["refs"].splitlines())
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/gg/adopted"
    assert git(repo, "rev-parse", "HEAD~1") == c["keep2"]
    assert git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split() == [".gitignore", "gg-research.toml"]
    assert after["files"]["train.py"] == git(repo, "show", f"{c['keep2']}:train.py").encode() + b"\n"
    assert after["files"]["results.tsv"] == before["files"]["results.tsv"]
    cfg = load_config(repo / "gg-research.toml")
    assert cfg.run.command == "uv run train.py" and cfg.objectives[0].direction == "minimize"
    assert cfg.keep.min_epsilon == 0.0015
    ledger = read_ledger(repo / "results" / "experiments.jsonl")
    assert not ledger.warnings
    exps = ledger.experiments
    assert [e.status for e in exps] == [Status.BASELINE, Status.KEEP, Status.DISCARD, Status.CRASH, Status.DISCARD,
                                        Status.DISCARD, Status.KEEP]
    assert all(e.tag == "imported" and e.imported and e.proposer == "imported" for e in exps)
    assert exps[0].commit == c["base"] and exps[3].commit == c["crash"] and exps[3].metrics == {}
    assert exps[4].commit == "" and exps[4].imported["commit"].endswith("-dirty") and exps[4].metrics == {}
    assert exps[5].commit == "" and exps[5].metrics == {"val_bpb": 0.995}
    assert exps[1].aux == {"memory_gb": 44.2}
    tsv = [r.split("\t") for r in (repo / "results" / "results.tsv").read_text().splitlines()]
    assert tsv[2][:4] == ["h0002", c["keep1"][:7], "0.9932", "44.20"] and tsv[4][5] == "crash"
    out = capsys.readouterr().out
    assert "imported 7 past experiment(s)" in out and "commit 'abc1234' is not in this repository's git" in out
    with pytest.raises(WorkspaceError, match="already has gg-research.toml"):
        plan_adoption(repo)


def test_adopt_refuses_a_dirty_tree_and_changes_nothing(tmp_path: Path) -> None:
    repo, _ = autoresearch_repo(tmp_path)
    (repo / "train.py").write_text(TRAIN + "# the agent's unfinished edit\n")
    before = _snapshot(repo)
    plan = plan_adoption(repo)
    with pytest.raises(WorkspaceError, match="uncommitted changes to tracked files"):
        apply_adoption(plan)
    assert _snapshot(repo) == before


def test_not_a_repo_or_no_train_py_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").mkdir()
    assert main(["adopt", str(tmp_path / "plain")]) == 2
    assert "not the top folder of a git repository" in capsys.readouterr().err
    repo, _ = autoresearch_repo(tmp_path)
    assert main(["adopt", str(repo), "--mutable", "model.py", "--dry-run"]) == 2
    assert "model.py: mutable file is missing or not committed" in capsys.readouterr().err


def test_imported_history_reaches_the_prompt_memory_and_older_ledgers_still_read(tmp_path: Path) -> None:
    from gg_research.loop.agent_state import loop_state

    repo, _ = thesis_repo(tmp_path)
    apply_adoption(plan_adoption(repo))
    cfg = load_config(repo / "gg-research.toml")
    # An experiment written the old way (no "imported" key) beside the imported ones.
    ledger = LedgerFile(repo, ["val_score"])
    with open(ledger.jsonl, "a") as fh:
        fh.write(json.dumps({"event": "end", "id": "e0001", "tag": "night1", "status": "baseline", "commit": "f" * 40,
                             "metrics": {"val_score": 0.6}, "title": "baseline"}) + "\n")
    exps = ledger.read().experiments
    assert exps[-1].imported is None and sum(1 for e in exps if e.imported) == 5
    state = loop_state(repo, cfg, "night1")
    summary = state["summary"]
    assert "## Tried before gg-research (5 experiments imported from results.tsv" in summary
    assert "STN warm-up before joint training: PBQC collapsed" in summary and "val_score=0.4100" in summary
    assert state["experiments"] == 1  # the imported rows are not this night's experiments
    # The novelty check's pool (experiments that ran) holds them, even one whose commit git lost.
    from gg_research.results.journal import ran
    from gg_research.results.record import Experiment

    assert all(ran(e) for e in exps if e.imported)
    assert ran(Experiment("h0009", status=Status.DISCARD, imported={"line": 9}))
    assert not ran(Experiment("e0009", status=Status.DISCARD))


@pytest.mark.slow
def test_an_adopted_repo_runs_a_short_night_with_the_offline_proposer(tmp_path: Path) -> None:
    """The whole path a user takes: adopt, then `gg-research loop` (real subprocesses, the box as
    configured, Optuna over the fixture's '# search:' knobs), then the report."""
    import os
    import subprocess
    import sys

    repo, c = autoresearch_repo(tmp_path)
    master = git(repo, "rev-parse", "master")
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"} | {"OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "gg_research.cli"]
    adopt = subprocess.run([*cli, "adopt", str(repo), "--command", f"{sys.executable} train.py"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert adopt.returncode == 0, adopt.stderr
    night = subprocess.run([*cli, "loop", "--tag", "night1", "--max-experiments", "3", "--baseline-seeds", "1",
                            "--budget", "5", "--proposer", "optuna"], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=300)
    assert night.returncode == 0, night.stdout + night.stderr
    exps = read_ledger(repo / "results" / "experiments.jsonl").experiments
    ours = [e for e in exps if e.tag == "night1"]
    assert [e.status for e in ours][0] is Status.BASELINE and len(ours) == 4
    assert all(e.status in (Status.KEEP, Status.DISCARD, Status.CRASH) for e in ours[1:])
    assert all("val_bpb" in e.metrics and "peak_vram_mb" in e.aux for e in ours if e.status.measured)
    assert ours[0].parent_commit == git(repo, "rev-parse", "gg/adopted")
    # The imported rows were neither re-run nor re-judged; the user's branches did not move.
    assert [e.id for e in exps if e.tag == "imported"] == [f"h{i:04d}" for i in range(1, 8)]
    assert git(repo, "rev-parse", "master") == master and git(repo, "rev-parse", "autoresearch/mar5") == c["keep2"]
    assert git(repo, "diff", c["keep2"], ours[0].commit, "--", "train.py") == ""  # the baseline is the newest keep
    report = subprocess.run([*cli, "report"], cwd=repo, env=env | {"MPLBACKEND": "Agg"}, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    md = (repo / "results" / "report.md").read_text()
    assert "7 experiment(s) imported from a results.tsv" in md and "more steps, at the higher LR" in md
    assert "e0001" in md


def test_history_against_the_brief_follows_the_brief_and_says_so(tmp_path: Path) -> None:
    repo, _ = autoresearch_repo(tmp_path)
    (repo / "program.md").write_text((repo / "program.md").read_text().replace("lowest val_bpb", "highest val_bpb"))
    (o,) = plan_adoption(repo).objectives
    assert o.direction == "maximize" and "the kept history moved it the other way (minimize)" in o.how
