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
