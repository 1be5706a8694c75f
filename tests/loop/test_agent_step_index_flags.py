"""Red team of an agent's step (issue 30, item 1): an edit of a frozen file must be refused, however
git is told to look at it. `git update-index --skip-worktree FILE` makes `git diff` and `git status`
(the step's scope check, the run's work-tree check) treat the file as unchanged, and `git reset --hard`
leave it alone; the box copies the working tree's file, so the edited frozen file is what runs. In
this workspace it is the `[run] command` that prints the figures: the keep is forged, and its
commit does not hold the change that made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.loop.errors import EditRefused
from tests.loop.fakes import git, make_workspace, records
from tests.loop.test_agent_step import _edit, _step


@pytest.mark.slow
def test_a_frozen_file_hidden_from_git_by_skip_worktree_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    _edit(ws, "QA = 1.0", "QA = 1.1")
    assert _step(ws, "first")[0]["status"] == "keep"
    git(ws, "update-index", "--skip-worktree", "fake_run.py")
    _edit(ws, 'm = ns["train"](int(os.environ["GG_SEED"]))',
          'm = ns["train"](int(os.environ["GG_SEED"])); m["pbqc"] = m["dice"] = 0.99', "fake_run.py")
    _edit(ws, "QB = 1.0", "QB = 0.9")  # a worse edit of the mutable file, to carry it
    with pytest.raises(EditRefused, match="fake_run.py"):
        _step(ws, "forged")
    assert [r.status.value for r in records(ws)] == ["baseline", "keep"]


@pytest.mark.slow
def test_a_frozen_file_hidden_by_assume_unchanged_is_refused_before_anything_runs(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    _edit(ws, "QA = 1.0", "QA = 1.1")
    assert _step(ws, "first")[0]["status"] == "keep"
    git(ws, "update-index", "--assume-unchanged", "fake_run.py")
    _edit(ws, "QB = 1.0", "QB = 0.9")
    with pytest.raises(EditRefused, match=r"fake_run\.py.*--no-assume-unchanged") as info:
        _step(ws, "hidden")
    assert "\n" not in str(info.value)
    assert [r.status.value for r in records(ws)] == ["baseline", "keep"]


@pytest.mark.parametrize("flag", ["--skip-worktree", "--assume-unchanged"])
def test_every_git_query_the_loop_trusts_counts_a_hidden_file_as_changed(tmp_path: Path, flag: str) -> None:
    from gg_research.loop.git import Git

    ws = tmp_path / "repo"
    ws.mkdir()
    git(ws, "init", "-q")
    (ws / "frozen.py").write_text("x = 1\n")
    (ws / "train.py").write_text("y = 1\n")
    git(ws, "add", ".")
    git(ws, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    repo = Git(ws)
    head = repo.head()
    assert repo.modified_tracked() == [] and repo.changed_since(head) == [] and repo.hidden() == []
    git(ws, "update-index", flag, "frozen.py")
    (ws / "frozen.py").write_text("x = 2\n")
    assert git(ws, "status", "--porcelain").strip() == ""  # git itself no longer sees the edit
    assert repo.hidden() == ["frozen.py"]
    assert repo.modified_tracked() == ["frozen.py"]  # the run's work-tree check (loop.integrity)
    assert repo.changed_since(head) == ["frozen.py"]  # the step's scope check
    assert repo.dirty(["frozen.py"]) == ["frozen.py"] and repo.dirty(["train.py"]) == []  # the branch's set-up
